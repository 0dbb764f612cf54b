using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.TestSupport;
using Relay.Web.Admin;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>
/// --max-bps over real UDP: an allocation sending faster than its cap loses what is beyond it, every packet is
/// accounted for (relayed or counted as over the cap), and the cap and the count show in the admin API and metrics.
/// </summary>
public sealed class BandwidthCapTests : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // 1000 bytes/s: the bucket holds the 65,536-byte minimum and earns one byte per millisecond.
    private readonly RelayFactory _relay = new(new() { ["max-bps"] = "1kB" });

    [Fact]
    public async Task An_allocation_over_its_cap_loses_the_excess_and_every_packet_is_accounted_for()
    {
        const int Sent = 100, PayloadLength = 1000;
        using var client = new UdpTurnClient(_relay.ListenV4, "capped");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        await client.AllocateAsync();
        await client.ChannelBindAsync(0x4000, peer.EndPoint);
        var started = DateTime.UtcNow;
        for (int i = 0; i < Sent; i++)
        {
            await client.SendChannelDataAsync(0x4000, new byte[PayloadLength]);
        }

        using var http = _relay.CreateClient();
        AllocationModel allocation = null!;
        await Eventually.TrueAsync(async () =>
        {
            var page = await http.GetFromJsonAsync<AllocationPage>("/admin/allocations?username=" + Uri.EscapeDataString(client.Signer.Username), Json);
            allocation = Assert.Single(page!.Items);
            return allocation.Traffic.PacketsFromClient + allocation.PacketsOverBandwidth == Sent;
        }, "every packet to be relayed or counted over the cap");

        // 65 fit the burst; the refill (one byte per millisecond) may add one per second the sending took.
        long relayed = allocation.Traffic.PacketsFromClient;
        double seconds = (DateTime.UtcNow - started).TotalSeconds;
        Assert.InRange(relayed, 65, 65 + (long)Math.Ceiling(seconds));
        for (long i = 0; i < relayed; i++)
        {
            await peer.ReceiveAsync(); // all the relayed ones arrive...
        }

        Assert.Equal(0, peer.Available); // ...and no more: the relay counted each of the rest as dropped
        Assert.Equal(Sent - relayed, _relay.Runtime.Engine!.Counters.Drops(DropReason.OverBandwidth));
        string scrape = await http.GetStringAsync("/metrics");
        Assert.Matches($@"(?m)^relay_dropped_packets_total\{{[^}}]*reason=""over_bandwidth""[^}}]*\}} {Sent - relayed}\b", scrape);
    }

    [Fact]
    public async Task The_limits_in_effect_are_in_the_status_and_in_metrics()
    {
        using var http = _relay.CreateClient();
        var status = await http.GetFromJsonAsync<StatusModel>("/admin/status", Json);
        Assert.Equal(1000, status!.Limits.MaxBytesPerSecondPerAllocation);
        Assert.Equal(100, status.Limits.UserQuota);
        Assert.Equal(256, status.Limits.MaxChannelsPerAllocation);
        Assert.Equal(600, status.Limits.AllocationLifetimeSeconds);

        string scrape = await http.GetStringAsync("/metrics");
        Assert.Matches(@"(?m)^relay_limit\{[^}]*limit=""max_bytes_per_second_per_allocation""[^}]*\} 1000\b", scrape);
        Assert.Matches(@"(?m)^relay_limit\{[^}]*limit=""max_permissions_per_allocation""[^}]*\} 256\b", scrape);
    }

    [Fact]
    public async Task The_fast_path_s_over_cap_drops_are_added_to_the_allocation_s()
    {
        using var relay = new RelayFactory { FastPath = new FakeFastPath { OverBandwidth = 7 } };
        using var client = new UdpTurnClient(relay.ListenV4, "offloaded");
        await client.AllocateAsync();
        using var http = relay.CreateClient();
        var page = await http.GetFromJsonAsync<AllocationPage>("/admin/allocations", Json);
        Assert.Equal(7, Assert.Single(page!.Items).PacketsOverBandwidth);
    }

    public void Dispose() => _relay.Dispose();
}
