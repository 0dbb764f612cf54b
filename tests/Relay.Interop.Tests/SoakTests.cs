using System.Diagnostics;
using System.Text.Json;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;
using Xunit.Abstractions;

namespace Relay.Interop.Tests;

/// <summary>
/// The hardening soak through the real binary and the load tool (bench/Relay.LoadTest, --soak): 5,000 allocations,
/// each with a channel to the tool's echo peer, relaying for 60 s, twice over. The relay must lose nothing, its
/// allocation, channel and permission tables must return to 0 after each round, and its RSS after round 2 must not
/// exceed its RSS after round 1 beyond the tool's tolerances. Runs alone so that no other test competes for the CPU.
/// </summary>
[Collection(nameof(SoakTests))]
public sealed class SoakTests(ITestOutputHelper output)
{
    private const int Allocations = 5000;
    private const int Seconds = 60;

    // 1 packet/s per allocation: 10,000 relayed datagrams/s, about a fifth of one core for the relay on the 2-core
    // machine, so the run proves the tables and memory under load rather than the machine's headroom.
    private const int Rate = 5000;

    // The setup sends one unauthenticated Allocate per allocation at ~1,500 allocations/s; over 32 source addresses
    // that is ~50 401s/s per address, under the relay's default --unauthenticated-rate (100/s, bursts of 200).
    private const int SourceAddresses = 32;

    private static string LoadTool => Path.Combine(AppContext.BaseDirectory, "relay-loadtest.dll");

    [Fact]
    public async Task Five_thousand_allocations_relay_60_s_without_loss_and_the_relay_returns_to_empty_tables_and_its_size()
    {
        // Default relay settings but for loopback peers: firezone auth (one username per allocation, so
        // --user-quota never applies), default rate limits, lifetimes and port range.
        using var relay = await RelayProcess.StartLoopbackAsync("--relay-secret", UdpTurnClient.DefaultSecret);
        string http = $"http://127.0.0.1:{relay.HttpPort}";

        var (code, stdout, stderr) = await RunAsync(
        [
            LoadTool, "--soak", "--induce-gc", "--json", "--quiet",
            "--server", $"127.0.0.1:{relay.UdpPort}", "--secret", UdpTurnClient.DefaultSecret, "--auth-scheme", "firezone",
            "--allocations", $"{Allocations}", "--rate", $"{Rate}", "--warmup", "0", "--duration", $"{Seconds}",
            "--source-addresses", $"{SourceAddresses}", "--server-pid", $"{relay.Pid}",
            "--admin", http, "--metrics", $"{http}/metrics",
        ], TimeSpan.FromMinutes(8));

        output.WriteLine($"relay-loadtest exited {code}; its JSON report:");
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.True(code == 0, $"relay-loadtest --soak exited {code}:\n{stderr}\n{stdout}\nrelay:\n{Tail(relay.Output)}");

        using var report = JsonDocument.Parse(stdout);
        JsonElement root = report.RootElement;
        Assert.True(root.GetProperty("pass").GetBoolean());
        Assert.True(root.GetProperty("rss_after_induced_gc").GetBoolean());
        JsonElement rounds = root.GetProperty("round_reports");
        Assert.Equal(2, rounds.GetArrayLength());
        output.WriteLine($"baseline: {Describe(root.GetProperty("baseline"))}");
        foreach (JsonElement round in rounds.EnumerateArray())
        {
            JsonElement traffic = round.GetProperty("traffic");
            output.WriteLine($"round {round.GetProperty("round")}: up {Describe(round.GetProperty("up"))}; sent {traffic.GetProperty("sent")}, "
                + $"lost {traffic.GetProperty("lost")}, relay CPU {traffic.GetProperty("cpu_pct").GetProperty("server")} %; released: {Describe(round.GetProperty("empty"))}");
            Assert.Equal(0, traffic.GetProperty("lost").GetInt64());
            Assert.Equal(traffic.GetProperty("sent").GetInt64(), traffic.GetProperty("received").GetInt64());
            Assert.True(traffic.GetProperty("sent").GetInt64() >= Rate * Seconds * 95L / 100, $"round {round.GetProperty("round")}: the pacer fell behind");
            AssertTables(round.GetProperty("up"), Allocations);
            AssertTables(round.GetProperty("empty"), 0);
            Assert.Equal(Allocations, round.GetProperty("released").GetInt32());
        }

        long growth = root.GetProperty("rss_growth_kib").GetInt64();
        long anonGrowth = root.GetProperty("rss_anon_growth_kib").GetInt64();
        Assert.True(growth <= root.GetProperty("rss_tolerance_mib").GetDouble() * 1024, $"RSS grew by {growth} KiB");
        double perAllocation = root.GetProperty("rss_per_allocation_bytes").GetDouble();
        Assert.InRange(perAllocation, 1, 64 * 1024);
        output.WriteLine($"RSS per allocation {perAllocation:F0} bytes; growth from round 1 to round 2: {growth} KiB (anon {anonGrowth} KiB)");
        Assert.False(relay.HasExited);
    }

    private static void AssertTables(JsonElement sample, int expected)
    {
        Assert.Equal(expected, sample.GetProperty("allocations").GetInt32());
        Assert.Equal(expected, sample.GetProperty("channels").GetInt32());
        Assert.Equal(expected, sample.GetProperty("permissions").GetInt32());
    }

    private static string Describe(JsonElement sample) =>
        $"RSS {sample.GetProperty("rss_kib").GetInt64() / 1024.0:F1} MiB (anon {sample.GetProperty("rss_anon_kib").GetInt64() / 1024.0:F1}), "
        + $"{sample.GetProperty("allocations")} allocations, {sample.GetProperty("channels")} channels, {sample.GetProperty("permissions")} permissions";

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(RelayProcess.DotNet);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        ProcessResult result = await BoundedProcess.RunAsync(info, timeout);
        return (result.Code, result.Stdout, result.Stderr);
    }
}

/// <summary>The soak runs alone: after the parallel tests of this assembly, never beside them.</summary>
[CollectionDefinition(nameof(SoakTests), DisableParallelization = true)]
public sealed class SoakCollection;
