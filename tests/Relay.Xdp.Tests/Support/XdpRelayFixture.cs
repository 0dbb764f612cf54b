using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Relay.Core.Net;
using Relay.TestSupport;

namespace Relay.Xdp.Tests.Support;

/// <summary>
/// The real firezone-relay with --ebpf-offloading on the relay namespace's eth0 (driver mode), in a fresh
/// <see cref="RelayTopology"/>. Its admin API and metrics are reached from inside the relay namespace.
/// </summary>
public partial class XdpRelayFixture : IAsyncLifetime
{
    /// <summary>--ebpf-attach-mode.</summary>
    protected virtual string AttachMode => "driver";

    public static readonly string[] Requirements = ["clang", "ip", "ethtool", "sysctl"];

    public RelayTopology Topology { get; private set; } = null!;

    public RelayProcess Relay { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public HttpClient Health { get; private set; } = null!;

    public string? SkipReason { get; } = TestEnvironment.SkipReason(root: true, Requirements);

    /// <summary>--max-bps of the relay: 100 kB/s per allocation and direction, so a one-second burst of 100 kB.</summary>
    public const int MaxBytesPerSecond = 100_000;

    public async Task InitializeAsync()
    {
        if (SkipReason is not null)
        {
            return;
        }

        TestEnvironment.Require(root: true, Requirements);
        Topology = RelayTopology.Create(Path.Combine(AppContext.BaseDirectory, "xdp_pass.bpf.o"));
        Relay = RelayProcess.Start(
        [
            "--ebpf-offloading", "eth0", "--ebpf-attach-mode", AttachMode,
            "--public-ip4-addr", RelayTopology.Address("relay", IpFamily.V4).ToString(),
            "--public-ip6-addr", RelayTopology.Address("relay", IpFamily.V6).ToString(),
            "--health-check-addr", "127.0.0.1:8080", "--control-endpoint", "127.0.0.1:9999",
            "--relay-secret", UdpTurnClient.DefaultSecret, "--log-filter", "info,Relay.Xdp=debug",
            // The lab's addresses are private, which the relay refuses by default; the tests allow them by name.
            "--allowed-peer-ip", "10.41.0.0/16", "--allowed-peer-ip", "fd41::/16",
            // A bandwidth cap the other tests stay far below (they send a few kilobytes per allocation).
            "--max-bps", $"{MaxBytesPerSecond}",
        ], launcher: ["ip", "netns", "exec", Topology.Relay.Name]);
        await Relay.WaitUntilListeningAsync();
        Admin = Topology.Relay.HttpClient("http://127.0.0.1:9999");
        Health = Topology.Relay.HttpClient("http://127.0.0.1:8080");
    }

    /// <summary>Datagrams the relay namespace's UDP layer received (IPv4 and IPv6), from its own /proc.</summary>
    public (long V4, long V6) UdpInDatagrams()
    {
        string snmp = File.ReadAllText($"/proc/{Relay.Pid}/net/snmp");
        string snmp6 = File.ReadAllText($"/proc/{Relay.Pid}/net/snmp6");
        string[] header = snmp.Split('\n').First(l => l.StartsWith("Udp: InDatagrams", StringComparison.Ordinal)).Split(' ');
        string[] values = snmp.Split('\n').Last(l => l.StartsWith("Udp: ", StringComparison.Ordinal)).Split(' ');
        long v4 = long.Parse(values[Array.IndexOf(header, "InDatagrams")]);
        long v6 = long.Parse(Udp6InDatagrams().Match(snmp6).Groups[1].Value);
        return (v4, v6);
    }

    public async Task<JsonElement> GetJsonAsync(string path) => await Admin.GetFromJsonAsync<JsonElement>(path);

    /// <summary>One sample of a Prometheus counter from /metrics, matched by name and a label.</summary>
    public async Task<long> MetricAsync(string name, string label)
    {
        string text = await Health.GetStringAsync("/metrics");
        Match match = Regex.Match(text, "^" + Regex.Escape(name) + @"\{[^}]*" + Regex.Escape(label) + @"[^}]*\} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value) : 0;
    }

    public async Task DisposeAsync()
    {
        Admin?.Dispose();
        Health?.Dispose();
        if (Relay is not null)
        {
            await Relay.TerminateAsync();
            Relay.Dispose();
        }

        Topology?.Dispose();
    }

    [GeneratedRegex(@"^Udp6InDatagrams\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex Udp6InDatagrams();
}

/// <summary>The same relay attached in generic (SKB) mode, as on interfaces whose driver lacks native XDP.</summary>
public sealed class GenericModeRelayFixture : XdpRelayFixture
{
    protected override string AttachMode => "generic";
}
