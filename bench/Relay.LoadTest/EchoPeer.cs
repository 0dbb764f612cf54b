using System.Net;
using System.Net.Sockets;

namespace Relay.LoadTest;

/// <summary>
/// A UDP echo peer (loopback unless told otherwise): one thread, blocking receive, echo to the sender (the relay's
/// port). Given a network namespace, its socket is created inside it: a thread enters the namespace (setns affects
/// only that thread), creates the socket and leaves; the socket stays where it was made.
/// </summary>
internal sealed partial class EchoPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _echoed;
    private long _errors;

    /// <param name="echo">False: no echo thread; the runner reads <see cref="Socket"/> itself (one-way mode).</param>
    public EchoPeer(AddressFamily family, int socketBuffer, IPAddress? bind = null, string? netns = null, bool echo = true)
    {
        _socket = netns is null ? new Socket(family, SocketType.Dgram, ProtocolType.Udp) : SocketInNamespace(netns, family);
        Native.SetBuffers(_socket, socketBuffer);
        _socket.ReceiveTimeout = 100;
        _socket.Bind(new IPEndPoint(bind ?? (family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback), 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Run) { Name = "lt-echo", IsBackground = true };
        if (echo)
        {
            _thread.Start();
        }
    }

    public Socket Socket => _socket;

    public IPEndPoint EndPoint { get; }

    public long Echoed => Interlocked.Read(ref _echoed);

    public long Errors => Interlocked.Read(ref _errors);

    private void Run()
    {
        byte[] buffer = new byte[65536];
        var from = new SocketAddress(_socket.AddressFamily);
        while (!_stop)
        {
            int length = Receive(_socket, buffer, from, ref _errors);
            if (length < 0)
            {
                return;
            }

            if (length == 0)
            {
                continue;
            }

            try
            {
                _socket.SendTo(buffer.AsSpan(0, length), SocketFlags.None, from);
                Volatile.Write(ref _echoed, _echoed + 1);
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref _errors);
            }
        }
    }

    /// <summary>
    /// One blocking receive (the socket has a receive timeout): the datagram's length, 0 on a timeout or an error
    /// (counted in <paramref name="errors"/>), -1 once the socket is closed. Empty datagrams count as timeouts.
    /// </summary>
    public static int Receive(Socket socket, byte[] buffer, SocketAddress from, ref long errors)
    {
        try
        {
            return socket.ReceiveFrom(buffer, SocketFlags.None, from);
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return 0;
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref errors);
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    private static Socket SocketInNamespace(string netns, AddressFamily family)
    {
        Socket? socket = null;
        string? failure = null;
        var thread = new Thread(() =>
        {
            using var handle = File.OpenHandle($"/run/netns/{netns}");
            if (setns((int)handle.DangerousGetHandle(), 0x40000000 /* CLONE_NEWNET */) != 0)
            {
                failure = $"setns {netns}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}";
                return;
            }

            socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new SetupException($"cannot open the echo peer in namespace {netns}: {failure}");
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _socket.Dispose();
    }
}
