using System.Runtime.InteropServices;

namespace Relay.Web.Udp.Native;

/// <summary>A level-triggered epoll set whose events carry a 64-bit token, plus an eventfd to wake the waiter.</summary>
internal sealed unsafe class Epoll : IDisposable
{
    private readonly int _fd;
    private readonly int _wakeFd;
    private readonly byte* _events;
    private readonly int _capacity;

    public Epoll(int capacity, ulong wakeToken)
    {
        _capacity = capacity;
        _fd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (_fd < 0)
        {
            throw new InvalidOperationException("epoll_create1 failed: " + LibC.ErrorText(Marshal.GetLastPInvokeError()));
        }

        _wakeFd = LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (_wakeFd < 0)
        {
            throw new InvalidOperationException("eventfd failed: " + LibC.ErrorText(Marshal.GetLastPInvokeError()));
        }

        _events = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * LibC.EpollEventSize));
        Add(_wakeFd, wakeToken);
    }

    public void Add(int fd, ulong token)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = LibC.EPOLLIN;
        *(ulong*)(ev + LibC.EpollDataOffset) = token;
        if (LibC.epoll_ctl(_fd, LibC.EPOLL_CTL_ADD, fd, ev) != 0)
        {
            throw new InvalidOperationException("epoll_ctl(ADD) failed: " + LibC.ErrorText(Marshal.GetLastPInvokeError()));
        }
    }

    public void Remove(int fd)
    {
        byte* ev = stackalloc byte[16];
        LibC.epoll_ctl(_fd, LibC.EPOLL_CTL_DEL, fd, ev);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1 = forever); returns the number of ready tokens.</summary>
    public int Wait(int timeoutMs)
    {
        int n = LibC.epoll_wait(_fd, _events, _capacity, timeoutMs);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EINTR)
            {
                return 0;
            }

            throw new InvalidOperationException("epoll_wait failed: " + LibC.ErrorText(errno));
        }

        return n;
    }

    public ulong TokenAt(int index) => *(ulong*)(_events + (index * LibC.EpollEventSize) + LibC.EpollDataOffset);

    /// <summary>Makes a concurrent or later <see cref="Wait"/> return. Safe from any thread.</summary>
    public void Wake()
    {
        ulong one = 1;
        LibC.write(_wakeFd, &one, sizeof(ulong));
    }

    /// <summary>Resets the wake counter (call when the wake token is reported).</summary>
    public void ClearWake()
    {
        ulong value;
        LibC.read(_wakeFd, &value, sizeof(ulong));
    }

    public void Dispose()
    {
        LibC.close(_wakeFd);
        LibC.close(_fd);
        NativeMemory.Free(_events);
    }
}
