using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Relay.LoadTest;

/// <summary>
/// The Linux calls the tool needs beyond System.Net.Sockets: sub-millisecond sleeps for the pacer (Thread.Sleep has
/// 1 ms granularity), non-blocking recv that reports EAGAIN as a return value (a SocketException per empty read
/// would allocate), forced socket buffers, and the descriptor limit.
/// </summary>
internal static unsafe partial class Native
{
    public const int EAGAIN = 11;
    public const int EINTR = 4;
    private const int MSG_DONTWAIT = 0x40;
    private const int SOL_SOCKET = 1;
    private const int SO_SNDBUFFORCE = 32;
    private const int SO_RCVBUFFORCE = 33;
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(ref TimeSpec request, IntPtr remaining);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, RLimit* limit);

    private static readonly bool UseNanoSleep = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    public static void SleepMicroseconds(int microseconds)
    {
        if (!UseNanoSleep)
        {
            Thread.Sleep(Math.Max(1, microseconds / 1000));
            return;
        }

        var request = new TimeSpec { Seconds = microseconds / 1_000_000, Nanoseconds = microseconds % 1_000_000 * 1000L };
        NanoSleep(ref request, IntPtr.Zero);
    }

    /// <summary>Clock ticks per second of /proc/*/stat (sysconf(_SC_CLK_TCK)); 100 when unknown.</summary>
    public static long ClockTicksPerSecond()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 100;
        }

        long ticks = SysConf(2); // _SC_CLK_TCK
        return ticks > 0 ? ticks : 100;
    }

    public static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>One non-blocking read: the datagram's length, or -errno (-<see cref="EAGAIN"/> when nothing is queued).</summary>
    public static int ReceiveNow(int fd, byte* buffer, int length)
    {
        nint n = Recv(fd, buffer, (nuint)length, MSG_DONTWAIT);
        return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// Sets both socket buffers to <paramref name="bytes"/>. As root the FORCE options pass net.core.rmem_max and
    /// wmem_max (212992 by default, which holds well under a second of a busy echo peer); otherwise the kernel caps
    /// the size silently.
    /// </summary>
    public static void SetBuffers(Socket socket, int bytes)
    {
        int fd = Fd(socket);
        if (!OperatingSystem.IsLinux() || SetSockOpt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(int)) != 0)
        {
            socket.ReceiveBufferSize = bytes;
        }

        if (!OperatingSystem.IsLinux() || SetSockOpt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(int)) != 0)
        {
            socket.SendBufferSize = bytes;
        }
    }

    /// <summary>
    /// Makes room for <paramref name="needed"/> descriptors: raises the soft RLIMIT_NOFILE up to the hard limit when
    /// it is lower (.NET usually has done so already); null on success, else why not.
    /// </summary>
    public static string? EnsureDescriptors(int needed)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        RLimit limit;
        if (GetRLimit(RLIMIT_NOFILE, &limit) != 0 || limit.Current >= (ulong)needed)
        {
            return null;
        }

        if (limit.Maximum < (ulong)needed)
        {
            return $"{needed} file descriptors are needed but the hard limit (ulimit -Hn) is {limit.Maximum}; raise it (e.g. ulimit -n {needed} as root) or use fewer --allocations";
        }

        limit.Current = limit.Maximum;
        return SetRLimit(RLIMIT_NOFILE, &limit) == 0 ? null : $"cannot raise the descriptor limit to {limit.Maximum}: errno {Marshal.GetLastPInvokeError()}";
    }
}
