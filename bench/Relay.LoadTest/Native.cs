using System.Runtime.InteropServices;

namespace Relay.LoadTest;

/// <summary>Sub-millisecond sleeps for the pacer (Thread.Sleep has 1 ms granularity).</summary>
internal static partial class Native
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(ref TimeSpec request, IntPtr remaining);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

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
}
