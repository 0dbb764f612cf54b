using System.Runtime.InteropServices;

namespace Relay.LoadTest;

/// <summary>
/// A level-triggered epoll set whose events carry a 32-bit token (the allocation's lane). Lets a few receive threads
/// serve thousands of allocation sockets; unread datagrams keep a socket ready, so a busy lane cannot hide others.
/// </summary>
internal sealed unsafe partial class Epoll : IDisposable
{
    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EPOLL_CTL_ADD = 1;
    private const uint EPOLLIN = 0x001;

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).</summary>
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private readonly int _fd;
    private readonly byte* _events;
    private readonly int _capacity;

    public Epoll(int capacity)
    {
        _capacity = capacity;
        _fd = epoll_create1(EPOLL_CLOEXEC);
        if (_fd < 0)
        {
            throw new SetupException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        }

        _events = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * EventSize));
    }

    public void Add(int fd, int token)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = EPOLLIN;
        *(ulong*)(ev + DataOffset) = (ulong)token;
        if (epoll_ctl(_fd, EPOLL_CTL_ADD, fd, ev) != 0)
        {
            throw new SetupException($"epoll_ctl(ADD) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/>; the number of ready tokens (0 on a timeout or EINTR).</summary>
    public int Wait(int timeoutMs)
    {
        int n = epoll_wait(_fd, _events, _capacity, timeoutMs);
        return n < 0 ? 0 : n;
    }

    public int TokenAt(int index) => (int)*(ulong*)(_events + (index * EventSize) + DataOffset);

    public void Dispose()
    {
        close(_fd);
        NativeMemory.Free(_events);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
