using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.TestSupport;
using Relay.Web.Tests.Portal;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>
/// The host's side of the fast-path seam, with a fake fast path: what the data plane tells it and when, and how its
/// counters reach /metrics, the admin API and the stats line (the kernel's own side is tested in Relay.Xdp.Tests).
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class FastPathSeamTests : IDisposable
{
    private readonly FakeFastPath _fastPath = new();
    private readonly RelayFactory _relay;

    public FastPathSeamTests()
    {
        _relay = new RelayFactory(new() { ["log-filter"] = "info" }) { FastPath = _fastPath, Logs = new LogCapture() };
    }

    [Fact]
    public async Task A_channel_is_in_the_fast_path_before_its_success_response_is_sent()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "seam-order");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        Assert.Contains($"bound {relayed.Port} V4", _fastPath.Calls);
        _fastPath.HoldChannelBound = new SemaphoreSlim(0);

        Task bind = client.ChannelBindAsync(0x4001, peer.EndPoint);
        await _fastPath.ChannelBoundEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The data-plane thread is inside ChannelBound now: the response, sent by that thread afterwards, cannot be out.
        Assert.Equal(0, client.Available);
        _fastPath.HoldChannelBound.Release();
        await bind;
        Assert.Contains($"channel 0x4001 {client.LocalEndPoint} -> {peer.EndPoint} on {relayed.Port}", _fastPath.Calls);
    }

    [Fact]
    public async Task Deleting_an_allocation_unbinds_its_channels_before_freeing_its_port()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "seam-free");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4002, peer.EndPoint);

        Assert.True((await client.RefreshAsync(0)).IsSuccess);

        var calls = _fastPath.Calls.ToList();
        int unbind = calls.IndexOf($"unbind 0x4002 {client.LocalEndPoint} -> {peer.EndPoint} on {relayed.Port}");
        int freed = calls.IndexOf($"freed {relayed.Port} V4");
        Assert.True(unbind >= 0 && freed > unbind, string.Join(Environment.NewLine, calls));
    }

    [Fact]
    public async Task Expiry_removes_the_channel_from_the_fast_path_and_then_the_port()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "seam-expiry");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4004, peer.EndPoint);

        await _relay.AdvanceAsync(TimeSpan.FromMinutes(11)); // past the 10-minute allocation lifetime

        var calls = _fastPath.Calls.ToList();
        int unbind = calls.IndexOf($"unbind 0x4004 {client.LocalEndPoint} -> {peer.EndPoint} on {relayed.Port}");
        int freed = calls.IndexOf($"freed {relayed.Port} V4");
        Assert.True(unbind >= 0 && freed > unbind, string.Join(Environment.NewLine, calls));
    }

    [Fact]
    public async Task Metrics_report_the_fast_paths_traffic_under_its_datapath()
    {
        var counters = new FastPathCounters([new("no_binding", 3)], [new("bounds", 1)]);
        counters.SetRelayed(RelayDirection.ClientToPeer, IpFamily.V4, IpFamily.V6, new TrafficCount(7, 700));
        counters.SetRelayed(RelayDirection.PeerToClient, IpFamily.V4, IpFamily.V6, new TrafficCount(5, 550));
        counters.SetHairpin(IpFamily.V6, IpFamily.V4, new TrafficCount(2, 20));
        _fastPath.Counters = counters;
        using var http = _relay.CreateClient();

        string scrape = await http.GetStringAsync("/metrics");

        Assert.Equal(7, Prometheus.Sample(scrape, "relay_relayed_packets_total", "relay_datapath=\"xdp\"", "relay_route=\"46\"", "relay_direction=\"client_to_peer\""));
        Assert.Equal(550, Prometheus.Sample(scrape, "relay_relayed_bytes_total", "relay_datapath=\"xdp\"", "relay_route=\"46\"", "relay_direction=\"peer_to_client\""));
        Assert.Equal(0, Prometheus.Sample(scrape, "relay_relayed_packets_total", "relay_datapath=\"userspace\"", "relay_route=\"46\"", "relay_direction=\"client_to_peer\""));
        Assert.Equal(3, Prometheus.Sample(scrape, "relay_xdp_passed_packets_total", "reason=\"no_binding\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_xdp_dropped_packets_total", "reason=\"bounds\""));
        Assert.Equal(2, Prometheus.Sample(scrape, "relay_xdp_hairpin_packets_total", "relay_route=\"64\""));
    }

    [Fact]
    public async Task The_admin_api_adds_the_fast_paths_traffic_to_allocations_and_channels()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "seam-admin");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        await client.AllocateAsync();
        await client.ChannelBindAsync(0x4003, peer.EndPoint);
        await client.SendChannelDataAsync(0x4003, new byte[10]); // one packet through userspace
        await peer.ReceiveAsync();
        _fastPath.AllocationTraffic = new ChannelTraffic(new TrafficCount(5, 500), new TrafficCount(6, 600));
        _fastPath.ChannelTraffic = new ChannelTraffic(new TrafficCount(4, 400), new TrafficCount(6, 600));
        using var http = _relay.CreateClient();

        JsonElement allocation = (await http.GetFromJsonAsync<JsonElement>("/admin/allocations")).GetProperty("items")[0];

        Assert.Equal("xdp", allocation.GetProperty("dataPath").GetString());
        Assert.Equal(6, allocation.GetProperty("traffic").GetProperty("packetsFromClient").GetInt64()); // 1 + 5
        Assert.Equal(510, allocation.GetProperty("traffic").GetProperty("bytesFromClient").GetInt64());
        Assert.Equal(5, allocation.GetProperty("xdpTraffic").GetProperty("packetsFromClient").GetInt64());
        JsonElement channel = allocation.GetProperty("channels")[0];
        Assert.Equal(5, channel.GetProperty("traffic").GetProperty("packetsFromClient").GetInt64()); // 1 + 4
        Assert.Equal(600, channel.GetProperty("xdpTraffic").GetProperty("bytesToClient").GetInt64());
        Assert.Equal("xdp", (await http.GetFromJsonAsync<JsonElement>("/admin/status")).GetProperty("dataPath").GetString());
    }

    [Fact]
    public async Task The_stats_line_counts_the_fast_paths_throughput()
    {
        var counters = new FastPathCounters([], []);
        counters.SetRelayed(RelayDirection.PeerToClient, IpFamily.V6, IpFamily.V6, new TrafficCount(10, 20_000));
        _fastPath.Counters = counters;
        _ = _relay.Runtime; // starts the host

        // The reporter's timer runs on the fake clock; step it until its next line is written.
        await Eventually.TrueAsync(() =>
        {
            _relay.Time.Advance(TimeSpan.FromSeconds(10));
            return _relay.Logs!.Entries.Any(e => e.Message.StartsWith("Allocations = ", StringComparison.Ordinal));
        }, "the stats line");

        string line = _relay.Logs!.Entries.First(e => e.Message.StartsWith("Allocations = ", StringComparison.Ordinal)).Message;
        Assert.Equal(LogLevel.Information, _relay.Logs.Entries.First(e => e.Message == line).Level);
        Assert.Matches(@"^Allocations = 0 Channels = 0 Throughput = [0-9.]+ [kM]?B/s \(xdp [0-9.]+ [kM]?B/s\)$", line);
        Assert.Equal(ThroughputOf(line, "Throughput = "), ThroughputOf(line, "(xdp ")); // all of it went through XDP
        Assert.True(ThroughputOf(line, "Throughput = ") > 0);
    }

    [Fact]
    public void Stopping_the_relay_disposes_the_fast_path()
    {
        _ = _relay.Runtime;
        _relay.Dispose();
        Assert.True(_fastPath.Disposed);
    }

    private static double ThroughputOf(string line, string prefix)
    {
        Match match = Regex.Match(line[(line.IndexOf(prefix, StringComparison.Ordinal) + prefix.Length)..], @"^([0-9.]+) ([kM]?)B/s");
        double value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return value * (match.Groups[2].Value switch { "k" => 1e3, "M" => 1e6, _ => 1 });
    }


    public void Dispose() => _relay.Dispose();
}
