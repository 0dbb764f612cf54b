using System.Net;
using Relay.Core.Net;

namespace Relay.Web.Udp.Native;

/// <summary>A non-blocking UDP socket owned by the data plane (a raw file descriptor).</summary>
internal sealed unsafe class UdpSocket : IDisposable
{
    /// <summary>
    /// Kernel buffers of a listening socket; a root relay forces them past net.core.rmem_max (the kernel doubles the
    /// figure). Large enough to ride out a scheduling hiccup of the data-plane thread, small enough that an overload
    /// drops instead of queueing for a tenth of a second.
    /// </summary>
    public const int BufferBytes = 4 * 1024 * 1024;

    /// <summary>Kernel buffers of an allocation socket: the 208 KiB default dropped bursts at 70k datagrams/s.</summary>
    public const int AllocationBufferBytes = 512 * 1024;

    private UdpSocket(int fd, IpFamily family, ushort port)
    {
        Fd = fd;
        Family = family;
        Port = port;
    }

    public int Fd { get; private set; }

    public IpFamily Family { get; }

    /// <summary>The bound port (the OS's choice when 0 was asked for).</summary>
    public ushort Port { get; }

    /// <summary>Opens and binds a socket; on failure returns null with the errno.</summary>
    public static UdpSocket? TryOpen(IPAddress bindAddress, ushort port, bool dontFragment, int bufferBytes, out int errno)
    {
        bool v6 = bindAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        int fd = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            return null;
        }

        int one = 1;
        if (v6)
        {
            LibC.setsockopt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, &one, sizeof(int));
        }

        if (dontFragment)
        {
            int mode = LibC.IP_PMTUDISC_DO;
            LibC.setsockopt(fd, v6 ? LibC.IPPROTO_IPV6 : LibC.IPPROTO_IP, v6 ? LibC.IPV6_MTU_DISCOVER : LibC.IP_MTU_DISCOVER, &mode, sizeof(int));
        }

        if (bufferBytes > 0)
        {
            SetBuffer(fd, LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF, bufferBytes);
            SetBuffer(fd, LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF, bufferBytes);
        }

        byte* address = stackalloc byte[SockAddr.StorageSize];
        uint length = SockAddr.Write(bindAddress, port, address);
        if (LibC.bind(fd, address, length) != 0)
        {
            errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            LibC.close(fd);
            return null;
        }

        LibC.getsockname(fd, address, &length);
        SockAddr.TryRead(address, length, out TransportAddress bound);
        errno = 0;
        return new UdpSocket(fd, v6 ? IpFamily.V6 : IpFamily.V4, bound.Port);
    }

    // The *FORCE variants need CAP_NET_ADMIN; without it the plain option is capped at net.core.[rw]mem_max.
    private static void SetBuffer(int fd, int force, int plain, int bytes)
    {
        if (LibC.setsockopt(fd, LibC.SOL_SOCKET, force, &bytes, sizeof(int)) != 0)
        {
            LibC.setsockopt(fd, LibC.SOL_SOCKET, plain, &bytes, sizeof(int));
        }
    }

    /// <summary>Sends one datagram; returns 0 or the errno (EAGAIN when the send buffer is full).</summary>
    public int SendTo(ReadOnlySpan<byte> payload, TransportAddress destination)
    {
        byte* address = stackalloc byte[SockAddr.V6Size];
        uint length = SockAddr.Write(destination, address);
        fixed (byte* data = payload)
        {
            nint sent = LibC.sendto(Fd, data, (nuint)payload.Length, LibC.MSG_DONTWAIT, address, length);
            return sent < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
        }
    }

    public void Dispose()
    {
        if (Fd >= 0)
        {
            LibC.close(Fd);
            Fd = -1;
        }
    }
}
