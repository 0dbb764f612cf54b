using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Auth;
using Relay.Core.Net;

namespace Relay.LoadTest;

/// <summary>
/// The soak (--soak): rounds of allocate everything, relay through every channel, release everything, watching
/// the server's RSS and engine tables. A relay that leaks per allocation (memory, table entries, timers that pin
/// freed state) shows it as tables that do not return to 0 or as RSS that keeps growing from round to round.
/// </summary>
internal static class Soak
{
    public static int Run(LoadOptions options, Action<string> progress)
    {
        CredentialScheme credentials = CredentialScheme.Create(options.Scheme, options.Secret);
        var report = new SoakReport { Options = options };
        EchoPeer? echo = null;
        var allocations = new List<TurnAllocation>();
        using var server = new ServerProbe(options.ServerPid!.Value, options.Admin, options.AdminToken,
            options.InduceGc ? new ServerGc(options.ServerPid!.Value, options.Metrics) : null);
        TimeSpan settle = TimeSpan.FromSeconds(options.Settle);
        try
        {
            IPEndPoint peerEndPoint = LoadTest.StartPeer(options, out echo);
            var peer = TransportAddress.FromIPEndPoint(peerEndPoint);
            report.Peer = peerEndPoint;
            report.Baseline = server.Sample();
            report.InducedGc = options.InduceGc;
            progress($"relay-loadtest soak: {options.Rounds} rounds of {options.Allocations} allocations on {options.Server}, server pid {options.ServerPid} RSS {Rss(report.Baseline.Memory)}, {report.Baseline.Tables}");
            if (!report.Baseline.Tables.AllEqual(0))
            {
                report.Failures.Add($"the server already holds {report.Baseline.Tables} before the soak; the soak needs an idle server");
            }

            for (int number = 1; number <= options.Rounds && report.Failures.Count == 0; number++)
            {
                var round = new SoakRound { Number = number };
                report.Rounds.Add(round);
                round.SetupSeconds = LoadTest.Open(options, credentials, peer, allocations, progress);
                round.Up = server.WaitForTables(options.Allocations, settle);
                progress($"round {number}: {options.Allocations} allocations up in {round.SetupSeconds:F1} s; server RSS {Rss(round.Up.Memory)}, {round.Up.Tables}");
                if (!round.Up.Tables.AllEqual(options.Allocations))
                {
                    report.Failures.Add($"round {number}: with {options.Allocations} allocations up the server reports {round.Up.Tables}");
                }

                round.Traffic = LoadTest.Measure(options, allocations.ToArray(), peerEndPoint, echo, round.SetupSeconds, progress);
                round.AfterTraffic = server.Sample();
                long releaseStart = Stopwatch.GetTimestamp();
                round.Released = LoadTest.Release(allocations);
                round.ReleaseSeconds = Stopwatch.GetElapsedTime(releaseStart).TotalSeconds;
                foreach (TurnAllocation allocation in allocations)
                {
                    allocation.Dispose();
                }

                allocations.Clear();
                round.Empty = server.WaitForTables(0, settle);
                progress($"round {number}: {round.Traffic.EchoesSent} sent, {round.Traffic.Lost} lost; after traffic RSS {Rss(round.AfterTraffic.Memory)}; released {round.Released} in {round.ReleaseSeconds:F1} s: RSS {Rss(round.Empty.Memory)}, {round.Empty.Tables}");
                Check(report, round);
            }

            report.CheckGrowth();
            Console.WriteLine(options.Json ? report.ToJson() : report.ToText());
            foreach (string failure in report.Failures)
            {
                Console.Error.WriteLine($"relay-loadtest soak: FAILED: {failure}");
            }

            return report.Failures.Count == 0 ? 0 : 1;
        }
        catch (Exception exception) when (exception is SetupException or SocketException)
        {
            Console.Error.WriteLine($"relay-loadtest soak: set-up failed: {exception.Message}");
            LoadTest.Release(allocations);
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

    private static void Check(SoakReport report, SoakRound round)
    {
        int n = report.Options.Allocations;
        LoadReport traffic = round.Traffic!;
        if (traffic.EchoesSent == 0 || traffic.Lost > 0 || traffic.SendErrors > 0)
        {
            report.Failures.Add($"round {round.Number}: {traffic.EchoesSent} sent, {traffic.Lost} lost, {traffic.SendErrors} send errors (the soak needs traffic and 0 loss)");
        }

        if (round.Released != n)
        {
            report.Failures.Add($"round {round.Number}: the server confirmed {round.Released} of {n} releases (Refresh LIFETIME 0)");
        }

        if (!round.Empty.Tables.AllEqual(0))
        {
            report.Failures.Add($"round {round.Number}: {report.Options.Settle} s after releasing everything the server still reports {round.Empty.Tables}");
        }
    }

    public static string Rss(ServerMemory m) => $"{Mib(m.RssKiB)} MiB (anon {Mib(m.AnonKiB)}, file {Mib(m.FileKiB)}, shmem {Mib(m.ShmemKiB)})";

    public static string Mib(long kib) => (kib / 1024.0).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}
