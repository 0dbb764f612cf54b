using System.Globalization;

namespace Relay.LoadTest;

/// <summary>CPU time of a process and of each of its threads, from /proc/PID/stat and /proc/PID/task/*/stat.</summary>
internal sealed class ProcessCpu
{
    private ProcessCpu(long totalTicks, long systemTicks, Dictionary<int, (string Name, long Ticks)> threads, Dictionary<int, long> runQueueWait)
    {
        TotalTicks = totalTicks;
        SystemTicks = systemTicks;
        Threads = threads;
        RunQueueWaitNs = runQueueWait;
    }

    /// <summary>Per thread: nanoseconds spent runnable but waiting for a CPU (/proc/PID/task/TID/schedstat, field 2).</summary>
    public Dictionary<int, long> RunQueueWaitNs { get; }

    public long TotalTicks { get; }

    /// <summary>The kernel-mode part of <see cref="TotalTicks"/> (stime).</summary>
    public long SystemTicks { get; }

    public Dictionary<int, (string Name, long Ticks)> Threads { get; }

    public static ProcessCpu? TryRead(int pid)
    {
        if (!TryReadStat($"/proc/{pid}/stat", out _, out long total, out long system))
        {
            return null;
        }

        var threads = new Dictionary<int, (string, long)>();
        var waits = new Dictionary<int, long>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid)
                    && TryReadStat(Path.Combine(dir, "stat"), out string name, out long ticks))
                {
                    threads[tid] = (name, ticks);
                    if (TryReadRunQueueWait(Path.Combine(dir, "schedstat"), out long wait))
                    {
                        waits[tid] = wait;
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return new ProcessCpu(total, system, threads, waits);
    }

    private static bool TryReadRunQueueWait(string path, out long waitNs)
    {
        waitNs = 0;
        try
        {
            string[] fields = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length >= 2 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out waitNs);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>utime + stime of every process of the machine (its threads included), by pid.</summary>
    public static Dictionary<int, long> AllProcesses()
    {
        var result = new Dictionary<int, long>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                    && TryReadStat(Path.Combine(dir, "stat"), out _, out long ticks))
                {
                    result[pid] = ticks;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
        }

        return result;
    }

    /// <summary>utime + stime (fields 14 and 15) and the comm field of a stat file.</summary>
    private static bool TryReadStat(string path, out string name, out long ticks) => TryReadStat(path, out name, out ticks, out _);

    private static bool TryReadStat(string path, out string name, out long ticks, out long systemTicks)
    {
        name = string.Empty;
        ticks = 0;
        systemTicks = 0;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        int open = text.IndexOf('(', StringComparison.Ordinal);
        int close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return false;
        }

        name = text[(open + 1)..close];
        string[] fields = text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out long system))
        {
            return false;
        }

        ticks = user + system;
        systemTicks = system;
        return true;
    }
}

/// <summary>Idle and total jiffies of the whole machine (first line of /proc/stat).</summary>
internal readonly record struct HostCpu(long Idle, long Total)
{
    public static HostCpu? TryRead()
    {
        try
        {
            string line = File.ReadLines("/proc/stat").First();
            long[] values = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            long idle = values[3] + (values.Length > 4 ? values[4] : 0);
            return new HostCpu(idle, values.Take(8).Sum());
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

/// <summary>One UDP socket of /proc/net/udp{,6}: local and remote port, and its receive-buffer drop counter.</summary>
internal readonly record struct UdpSocketRow(ulong Inode, int LocalPort, int RemotePort, long Drops, long RxQueue);

/// <summary>Per-socket drop counters and the namespace-wide UDP error counters at one instant.</summary>
internal sealed class UdpCounters
{
    private UdpCounters(List<UdpSocketRow> sockets, long rcvbufErrors, long sndbufErrors, long inErrors)
    {
        Sockets = sockets;
        RcvbufErrors = rcvbufErrors;
        SndbufErrors = sndbufErrors;
        InErrors = inErrors;
    }

    public List<UdpSocketRow> Sockets { get; }

    public long RcvbufErrors { get; }

    public long SndbufErrors { get; }

    public long InErrors { get; }

    public static UdpCounters Read()
    {
        var sockets = new List<UdpSocketRow>();
        ReadTable("/proc/net/udp", sockets);
        ReadTable("/proc/net/udp6", sockets);
        long rcvbuf = 0, sndbuf = 0, inErrors = 0;
        try
        {
            string[] snmp = File.ReadAllLines("/proc/net/snmp");
            for (int i = 0; i + 1 < snmp.Length; i++)
            {
                if (snmp[i].StartsWith("Udp: ", StringComparison.Ordinal) && snmp[i + 1].StartsWith("Udp: ", StringComparison.Ordinal))
                {
                    string[] names = snmp[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    string[] values = snmp[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    for (int k = 1; k < names.Length && k < values.Length; k++)
                    {
                        long v = long.Parse(values[k], CultureInfo.InvariantCulture);
                        switch (names[k])
                        {
                            case "RcvbufErrors": rcvbuf += v; break;
                            case "SndbufErrors": sndbuf += v; break;
                            case "InErrors": inErrors += v; break;
                        }
                    }

                    break;
                }
            }

            if (File.Exists("/proc/net/snmp6"))
            {
                foreach (string line in File.ReadLines("/proc/net/snmp6"))
                {
                    string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                    {
                        switch (parts[0])
                        {
                            case "Udp6RcvbufErrors": rcvbuf += v; break;
                            case "Udp6SndbufErrors": sndbuf += v; break;
                            case "Udp6InErrors": inErrors += v; break;
                        }
                    }
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return new UdpCounters(sockets, rcvbuf, sndbuf, inErrors);
    }

    private static void ReadTable(string path, List<UdpSocketRow> sockets)
    {
        try
        {
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 13)
                {
                    continue;
                }

                int local = int.Parse(f[1].AsSpan(f[1].LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                int remote = int.Parse(f[2].AsSpan(f[2].LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                long rx = long.Parse(f[4].AsSpan(f[4].IndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                ulong inode = ulong.Parse(f[9], CultureInfo.InvariantCulture);
                long drops = long.Parse(f[12], CultureInfo.InvariantCulture);
                sockets.Add(new UdpSocketRow(inode, local, remote, drops, rx));
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
        {
        }
    }
}

/// <summary>Receive-buffer drops during the measured window, by where the socket sits on the path.</summary>
internal sealed record UdpDrops(long ServerListen, long ServerRelay, long Peer, long Client, long RcvbufErrors, long SndbufErrors, long InErrors)
{
    public static UdpDrops? Compute(UdpCounters? before, UdpCounters? after, int serverPort, HashSet<int> relayPorts, int peerPort, HashSet<int> clientPorts)
    {
        if (before is null || after is null)
        {
            return null;
        }

        var start = new Dictionary<ulong, long>();
        foreach (UdpSocketRow row in before.Sockets)
        {
            start[row.Inode] = row.Drops;
        }

        long listen = 0, relay = 0, peer = 0, client = 0;
        foreach (UdpSocketRow row in after.Sockets)
        {
            long delta = row.Drops - start.GetValueOrDefault(row.Inode);
            if (delta <= 0)
            {
                continue;
            }

            if (row.RemotePort == 0 && row.LocalPort == serverPort)
            {
                listen += delta;
            }
            else if (row.RemotePort == 0 && relayPorts.Contains(row.LocalPort))
            {
                relay += delta;
            }
            else if (row.RemotePort == 0 && row.LocalPort == peerPort)
            {
                peer += delta;
            }
            else if (row.RemotePort == serverPort && clientPorts.Contains(row.LocalPort))
            {
                client += delta;
            }
        }

        return new UdpDrops(listen, relay, peer, client, after.RcvbufErrors - before.RcvbufErrors,
            after.SndbufErrors - before.SndbufErrors, after.InErrors - before.InErrors);
    }
}
