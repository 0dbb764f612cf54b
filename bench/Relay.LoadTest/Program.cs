using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.LoadTest;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (UsageException exception)
{
    if (exception.Message.Length == 0)
    {
        Console.WriteLine(LoadOptions.Usage);
        return 0;
    }

    Console.Error.WriteLine($"relay-loadtest: {exception.Message}");
    Console.Error.WriteLine("Run relay-loadtest --help for the options.");
    return 2;
}

return LoadTest.Run(options);

namespace Relay.LoadTest
{
    internal static class LoadTest
    {
        public static int Run(LoadOptions options)
        {
            void Progress(string line)
            {
                if (!options.Quiet)
                {
                    Console.Error.WriteLine(line);
                }
            }

            // One socket per allocation, plus the echo peer, the runtime's own and the admin API's connections.
            if (Native.EnsureDescriptors(options.Allocations + 256) is { } problem)
            {
                Console.Error.WriteLine($"relay-loadtest: {problem}");
                return 2;
            }

            if (options.Soak)
            {
                return Soak.Run(options, Progress);
            }

            CredentialScheme credentials = CredentialScheme.Create(options.Scheme, options.Secret);
            EchoPeer? echo = null;
            var allocations = new List<TurnAllocation>();
            try
            {
                IPEndPoint peerEndPoint = StartPeer(options, out echo);
                Progress($"relay-loadtest: {options.Allocations} allocations on {options.Server} ({options.Scheme}), echo peer {peerEndPoint}{(echo is null ? string.Empty : " (own thread)")}");
                double setupSeconds = Open(options, credentials, TransportAddress.FromIPEndPoint(peerEndPoint), allocations, Progress);
                Progress($"relay-loadtest: set-up done in {setupSeconds:F2} s; relayed {allocations[0].Relayed}..., {(options.Rate > 0 ? $"paced at {options.Rate} packets/s" : $"unpaced, window {options.Window} per allocation")}, {options.Size}-byte payloads, warm-up {options.Warmup} s, measure {options.Duration} s");

                var report = Measure(options, allocations.ToArray(), peerEndPoint, echo, setupSeconds, Progress);
                report.Deallocated = Release(allocations);
                if (options.Json)
                {
                    Console.WriteLine(report.ToJson());
                }
                else
                {
                    Console.WriteLine(report.ToText());
                }

                if (report.EchoesMeasured == 0)
                {
                    Console.Error.WriteLine("relay-loadtest: no echo came back during the measurement");
                    return 1;
                }

                if (options.MaxLossPercent is { } maxLoss && report.LossPercent > maxLoss)
                {
                    Console.Error.WriteLine($"relay-loadtest: loss {report.LossPercent:F3} % above --max-loss {maxLoss} %");
                    return 1;
                }

                return 0;
            }
            catch (Exception exception) when (exception is SetupException or SocketException)
            {
                Console.Error.WriteLine($"relay-loadtest: set-up failed: {exception.Message}");
                Release(allocations);
                return 2;
            }
            finally
            {
                foreach (TurnAllocation allocation in allocations)
                {
                    allocation.Dispose();
                }

                echo?.Dispose();
            }
        }

        /// <summary>The echo peer to bind the channels to: --peer, or the tool's own (returned in <paramref name="echo"/>).</summary>
        internal static IPEndPoint StartPeer(LoadOptions options, out EchoPeer? echo)
        {
            echo = null;
            if (options.Peer is not null)
            {
                return options.Peer;
            }

            AddressFamily peerFamily = options.PeerBind?.AddressFamily ?? options.Server.AddressFamily;
            echo = new EchoPeer(peerFamily, options.SocketBuffer, options.PeerBind, options.PeerNetns, echo: !options.OneWay);
            return echo.EndPoint;
        }

        /// <summary>
        /// Allocates --allocations and binds each one's channel to <paramref name="peer"/>, adding them to
        /// <paramref name="into"/> as they are made (so the caller can release them if a later one fails); the seconds taken.
        /// </summary>
        internal static double Open(LoadOptions options, CredentialScheme credentials, TransportAddress peer, List<TurnAllocation> into, Action<string> progress)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < options.Allocations; i++)
            {
                var allocation = new TurnAllocation(i, options.Server, credentials, options.User, options.SocketBuffer, options.SourceAddress(i));
                into.Add(allocation);
                allocation.Allocate(peer.Family);
                allocation.BindChannel(peer);
                if ((i + 1) % 1000 == 0 && i + 1 < options.Allocations)
                {
                    progress($"  {i + 1} allocations in {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s");
                }
            }

            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        /// <summary>Refresh(LIFETIME 0) for each allocation; how many the server confirmed.</summary>
        internal static int Release(IReadOnlyList<TurnAllocation> allocations)
        {
            int released = 0;
            foreach (TurnAllocation allocation in allocations)
            {
                if (allocation.TryDeallocate())
                {
                    released++;
                }
            }

            return released;
        }

        internal static LoadReport Measure(LoadOptions options, TurnAllocation[] allocations, IPEndPoint peer, EchoPeer? echo, double setupSeconds, Action<string> progress)
        {
            var runner = new LoadRunner(options, allocations, options.OneWay ? echo!.Socket : null);
            int serverPort = options.Server.Port;
            var relayPorts = allocations.Select(a => (int)a.Relayed.Port).ToHashSet();
            var clientPorts = allocations.Select(a => a.LocalPort).ToHashSet();

            runner.Start();
            long runStart = Stopwatch.GetTimestamp();
            long lastTick = runStart;
            long lastSent = 0, lastReceived = 0;

            void Report(string phase)
            {
                long now = Stopwatch.GetTimestamp();
                double dt = Stopwatch.GetElapsedTime(lastTick, now).TotalSeconds;
                long sent = runner.Sent, received = runner.Received;
                progress($"  {Stopwatch.GetElapsedTime(runStart, now).TotalSeconds,6:F1} s {phase,-7} sent {(sent - lastSent) / dt,9:F0}/s  echoed {(received - lastReceived) / dt,9:F0}/s  in flight {sent - received}");
                lastTick = now;
                lastSent = sent;
                lastReceived = received;
            }

            void Wait(double seconds, string phase)
            {
                long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
                while (true)
                {
                    long left = end - Stopwatch.GetTimestamp();
                    if (left <= 0)
                    {
                        return;
                    }

                    long nextReport = lastTick + Stopwatch.Frequency;
                    long until = Math.Min(end, nextReport);
                    int ms = (int)Math.Max(1, (until - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency);
                    Thread.Sleep(ms);
                    if (Stopwatch.GetTimestamp() >= nextReport)
                    {
                        Report(phase);
                    }
                }
            }

            Wait(options.Warmup, "warm-up");

            // Measured window: snapshot CPU and UDP counters around it.
            ProcessCpu? serverCpu0 = options.ServerPid is { } pid0 ? ProcessCpu.TryRead(pid0) : null;
            ProcessCpu? selfCpu0 = ProcessCpu.TryRead(Environment.ProcessId);
            HostCpu? host0 = HostCpu.TryRead();
            UdpCounters? udp0 = SafeUdp();
            long echo0 = echo?.Echoed ?? 0;
            Dictionary<int, long> others0 = ProcessCpu.AllProcesses();
            long windowStart = Stopwatch.GetTimestamp();
            runner.SetPhase(Phase.Measure);
            Wait(options.Duration, "measure");
            // Snapshot before the sender stops: a thread that has exited is gone from /proc/PID/task.
            long windowEnd = Stopwatch.GetTimestamp();
            ProcessCpu? serverCpu1 = options.ServerPid is { } pid1 ? ProcessCpu.TryRead(pid1) : null;
            ProcessCpu? selfCpu1 = ProcessCpu.TryRead(Environment.ProcessId);
            HostCpu? host1 = HostCpu.TryRead();
            Dictionary<int, long> others1 = ProcessCpu.AllProcesses();
            long echo1 = echo?.Echoed ?? 0;
            runner.SetPhase(Phase.Drain);
            double window = Stopwatch.GetElapsedTime(windowStart, windowEnd).TotalSeconds;

            // Drain: wait for the last measured echoes (or give up after --drain seconds).
            long drainEnd = Stopwatch.GetTimestamp() + (long)(options.Drain * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < drainEnd && runner.MeasuredReceived < runner.MeasuredSent)
            {
                Thread.Sleep(5);
            }

            UdpCounters? udp1 = SafeUdp();
            runner.SetPhase(Phase.Stop);
            runner.Join();

            long clockTicks = Native.ClockTicksPerSecond();
            var report = new LoadReport
            {
                Options = options,
                Peer = peer,
                OwnPeer = echo is not null,
                SetupSeconds = setupSeconds,
                WindowSeconds = window,
                EchoesSent = runner.MeasuredSent,
                EchoesMeasured = runner.MeasuredReceived,
                TotalSent = runner.Sent,
                TotalReceived = runner.Received,
                OutOfOrder = runner.OutOfOrder,
                Foreign = runner.Foreign,
                TokensDropped = runner.TokensDropped,
                SendErrors = runner.SendErrors,
                ReceiveErrors = runner.ReceiveErrors,
                Refills = runner.Refills,
                Latency = runner.MergedHistogram(),
                Drops = UdpDrops.Compute(udp0, udp1, serverPort, relayPorts, peer.Port, clientPorts),
                EchoPeerPackets = echo is null ? null : echo1 - echo0,
                EchoPeerErrors = echo?.Errors,
            };

            if (serverCpu0 is not null && serverCpu1 is not null)
            {
                report.ServerCpuPercent = Percent(serverCpu1.TotalTicks - serverCpu0.TotalTicks, clockTicks, window);
                report.ServerSystemCpuPercent = Percent(serverCpu1.SystemTicks - serverCpu0.SystemTicks, clockTicks, window);
                var busiest = serverCpu1.Threads
                    .Select(t => (Tid: t.Key, t.Value.Name, Delta: t.Value.Ticks - (serverCpu0.Threads.TryGetValue(t.Key, out var before) ? before.Ticks : 0)))
                    .OrderByDescending(t => t.Delta)
                    .FirstOrDefault();
                if (busiest.Name is not null)
                {
                    report.ServerBusiestThread = busiest.Name;
                    report.ServerBusiestThreadPercent = Percent(busiest.Delta, clockTicks, window);
                    if (serverCpu0.RunQueueWaitNs.TryGetValue(busiest.Tid, out long wait0) && serverCpu1.RunQueueWaitNs.TryGetValue(busiest.Tid, out long wait1))
                    {
                        report.ServerBusiestThreadWaitPercent = 100.0 * (wait1 - wait0) / 1e9 / window;
                    }
                }

                report.ServerThreads = serverCpu1.Threads
                    .Select(t => (t.Value.Name, Delta: t.Value.Ticks - (serverCpu0.Threads.TryGetValue(t.Key, out var before) ? before.Ticks : 0)))
                    .Where(t => t.Delta > 0)
                    .OrderByDescending(t => t.Delta)
                    .Take(6)
                    .Select(t => (t.Name, Percent(t.Delta, clockTicks, window)))
                    .ToList();
            }
            else if (options.ServerPid is not null)
            {
                report.ServerCpuNote = $"/proc/{options.ServerPid}/stat unreadable";
            }

            if (selfCpu0 is not null && selfCpu1 is not null)
            {
                report.ToolCpuPercent = Percent(selfCpu1.TotalTicks - selfCpu0.TotalTicks, clockTicks, window);
                double ThreadGroup(string prefix) => Percent(
                    selfCpu1.Threads.Where(t => t.Value.Name.StartsWith(prefix, StringComparison.Ordinal))
                        .Sum(t => t.Value.Ticks - (selfCpu0.Threads.TryGetValue(t.Key, out var before) ? before.Ticks : 0)),
                    clockTicks, window);
                report.ToolSenderCpuPercent = ThreadGroup("lt-send");
                report.ToolReceiversCpuPercent = ThreadGroup("lt-recv");
                report.ToolEchoCpuPercent = echo is null ? null : ThreadGroup("lt-echo");
            }

            var excluded = new HashSet<int> { Environment.ProcessId };
            if (options.ServerPid is { } serverPid)
            {
                excluded.Add(serverPid);
            }

            if (options.PeerPid is { } peerPid)
            {
                excluded.Add(peerPid);
                if (others0.TryGetValue(peerPid, out long p0) && others1.TryGetValue(peerPid, out long p1))
                {
                    report.PeerCpuPercent = Percent(p1 - p0, clockTicks, window);
                }
            }

            report.OtherProcessesCpuPercent = Percent(
                others1.Where(o => !excluded.Contains(o.Key) && others0.ContainsKey(o.Key)).Sum(o => o.Value - others0[o.Key]),
                clockTicks, window);

            if (host0 is { } h0 && host1 is { } h1 && h1.Total > h0.Total)
            {
                report.HostBusyPercent = 100.0 * Environment.ProcessorCount * (1 - ((double)(h1.Idle - h0.Idle) / (h1.Total - h0.Total)));
                // Busy time nobody we know of was charged for: processes that started or ended inside the window
                // (a test run, a build) and kernel work not charged to a task.
                report.UnattributedCpuPercent = Math.Max(0, report.HostBusyPercent.Value - (report.ServerCpuPercent ?? 0) - (report.ToolCpuPercent ?? 0)
                    - (report.PeerCpuPercent ?? 0) - (report.OtherProcessesCpuPercent ?? 0));
            }

            return report;
        }

        private static double Percent(long ticks, long clockTicks, double seconds) => seconds <= 0 ? 0 : 100.0 * ticks / clockTicks / seconds;

        private static UdpCounters? SafeUdp() => OperatingSystem.IsLinux() ? UdpCounters.Read() : null;
    }
}
