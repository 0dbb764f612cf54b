using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Relay.Core.Net;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>
/// The real relay with XDP offloading in driver mode, end to end through network namespaces: a TURN client and a
/// peer exchange ChannelData and UDP across the relay for each pair of address families. The relay namespace's own
/// UDP counters prove the data never reached its sockets (the kernel relayed it), the relay's XDP counters account
/// for every packet, and evicting the allocation empties the maps and stops the flow.
/// </summary>
public sealed class NamespaceEndToEndTests(XdpRelayFixture relay) : RelayingThroughXdp<XdpRelayFixture>(relay)
{
    [RequiresFact("clang", "ip", "ethtool", "sysctl", Root = true)]
    public async Task Eviction_removes_every_map_entry_and_stops_the_flow()
    {
        using var client = NewClient(IpFamily.V4);
        TransportAddress relayed = await client.AllocateAsync(IpFamily.V4);
        using var peer = NewPeer(IpFamily.V4);
        await client.ChannelBindAsync(Channel, peer.EndPoint);
        await client.SendChannelDataAsync(Channel, [1, 2, 3]);
        Assert.Equal([1, 2, 3], (await peer.ReceiveAsync()).Data);
        Assert.Contains(await Bindings("client_channels"), e => e.GetProperty("client").GetString() == client.LocalEndPoint.ToString());
        Assert.Contains(await LivePorts(), p => p == relayed.Port);
        long id = (await Relay.GetJsonAsync($"/admin/allocations?client={Uri.EscapeDataString(client.LocalEndPoint.ToString())}"))
            .GetProperty("items")[0].GetProperty("id").GetInt64();

        Assert.Equal(HttpStatusCode.NoContent, (await Relay.Admin.DeleteAsync($"/admin/allocations/{id}")).StatusCode);

        // The maps, read back from the kernel, hold nothing of the allocation.
        Assert.DoesNotContain(await Bindings("client_channels"), e => e.GetProperty("client").GetString() == client.LocalEndPoint.ToString());
        Assert.DoesNotContain(await Bindings("peer_bindings"), e => e.GetProperty("peer").GetString() == peer.EndPoint.ToString());
        Assert.DoesNotContain(await LivePorts(), p => p == relayed.Port);

        // The next ChannelData goes to userspace, which drops it for its unknown channel. That drop is the event
        // to wait for: had XDP relayed the packet, userspace would never have seen it.
        long dropped = await Relay.MetricAsync("relay_dropped_packets_total", "reason=\"unknown_channel\"");
        await client.SendChannelDataAsync(Channel, [4, 5, 6]);
        await Eventually.TrueAsync(async () => await Relay.MetricAsync("relay_dropped_packets_total", "reason=\"unknown_channel\"") > dropped,
            "userspace to drop the ChannelData of the evicted allocation");
        Assert.Equal(0, peer.Available);
    }

    /// <summary>
    /// --max-bps in the kernel: a client sending faster than its cap loses the excess in XDP (dropped there, not
    /// passed to the relay's sockets), and every packet is accounted for as relayed or over the cap.
    /// </summary>
    [RequiresFact("clang", "ip", "ethtool", "sysctl", Root = true)]
    public async Task An_allocation_over_its_cap_loses_the_excess_in_the_kernel()
    {
        const int Sent = 150, PayloadLength = 1000;
        using var client = NewClient(IpFamily.V4);
        await client.AllocateAsync(IpFamily.V6); // across families, the route only XDP relays in the kernel
        using var peer = NewPeer(IpFamily.V6);
        await client.ChannelBindAsync(Channel, peer.EndPoint);
        var udpBefore = Relay.UdpInDatagrams();
        long xdpDropsBefore = await Relay.MetricAsync("relay_xdp_dropped_packets_total", "reason=\"over_bandwidth\"");
        var started = DateTime.UtcNow;
        long received = 0;
        for (int i = 0; i < Sent; i++)
        {
            await client.SendChannelDataAsync(Channel, new byte[PayloadLength]);
            while (peer.Available > 0) // keep the peer's receive buffer from overflowing
            {
                await peer.ReceiveAsync();
                received++;
            }
        }

        JsonElement allocation = default;
        string query = $"/admin/allocations?client={Uri.EscapeDataString(client.LocalEndPoint.ToString())}";
        await Eventually.TrueAsync(async () =>
        {
            allocation = (await Relay.GetJsonAsync(query)).GetProperty("items")[0];
            return allocation.GetProperty("xdpTraffic").GetProperty("packetsFromClient").GetInt64() + allocation.GetProperty("packetsOverBandwidth").GetInt64() == Sent;
        }, "XDP to relay or drop every packet");

        // 100 fit the 100 kB burst; the refill (100 bytes per millisecond) may add one per 10 ms of sending.
        long relayed = allocation.GetProperty("xdpTraffic").GetProperty("packetsFromClient").GetInt64();
        Assert.InRange(relayed, 100, 101 + (long)((DateTime.UtcNow - started).TotalMilliseconds / 10));
        for (; received < relayed; received++)
        {
            await peer.ReceiveAsync();
        }

        Assert.Equal(0, peer.Available);
        Assert.Equal(Sent - relayed, await Relay.MetricAsync("relay_xdp_dropped_packets_total", "reason=\"over_bandwidth\"") - xdpDropsBefore);
        Assert.Equal(udpBefore, Relay.UdpInDatagrams()); // none of them reached the relay's sockets
    }

    [RequiresFact("clang", "ip", "ethtool", "sysctl", Root = true)]
    public async Task A_refused_peer_gets_403_and_no_map_entry()
    {
        using var client = NewClient(IpFamily.V4);
        await client.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport()
            .Family(StunAttr.AdditionalAddressFamily, IpFamily.V6));

        // Outside the lab blocks the fixture allows: private, CGNAT, metadata, and an IPv4-mapped spelling of one.
        foreach (string refused in new[] { "10.42.0.1:5000", "100.64.0.1:5000", "169.254.169.254:80", "[::ffff:10.42.0.1]:5000", "[fd42::1]:5000" })
        {
            var response = await client.RequestAsync(() => new MessageSpec(StunMethod.ChannelBind).ChannelNumber(Channel).Peer(refused));
            Assert.Equal(403, response.ErrorCode);
        }

        Assert.DoesNotContain(await Bindings("client_channels"), e => e.GetProperty("client").GetString() == client.LocalEndPoint.ToString());
    }
}

/// <summary>The same four routes with the program attached in generic (SKB) mode.</summary>
public sealed class GenericModeEndToEndTests(GenericModeRelayFixture relay) : RelayingThroughXdp<GenericModeRelayFixture>(relay);

/// <summary>ChannelData and UDP across the relay for each pair of address families, relayed by XDP.</summary>
public abstract class RelayingThroughXdp<TFixture> : IClassFixture<TFixture>
    where TFixture : XdpRelayFixture
{
    protected const ushort Channel = 0x4001;
    private const int Packets = 50;
    private static int _users;

    protected RelayingThroughXdp(TFixture relay) => Relay = relay;

    protected TFixture Relay { get; }

    public static TheoryData<IpFamily, IpFamily> Routes => new()
    {
        { IpFamily.V4, IpFamily.V4 },
        { IpFamily.V4, IpFamily.V6 },
        { IpFamily.V6, IpFamily.V4 },
        { IpFamily.V6, IpFamily.V6 },
    };

    [RequiresTheory("clang", "ip", "ethtool", "sysctl", Root = true)]
    [MemberData(nameof(Routes))]
    public async Task Channel_data_is_relayed_in_the_kernel_both_ways(IpFamily clientFamily, IpFamily peerFamily)
    {
        using var client = NewClient(clientFamily);
        var udpAtStart = Relay.UdpInDatagrams();
        TransportAddress relayed = await client.AllocateAsync(peerFamily);
        using var peer = NewPeer(peerFamily);
        await client.ChannelBindAsync(Channel, peer.EndPoint);
        var udpBefore = Relay.UdpInDatagrams();
        // The counter sees what reaches the relay's sockets: the STUN requests did.
        Assert.True(udpBefore.V4 + udpBefore.V6 > udpAtStart.V4 + udpAtStart.V6, $"the relay namespace's UDP counters did not move: {udpBefore}");
        JsonElement statsBefore = await Relay.GetJsonAsync("/admin/ebpf/stats");

        for (int i = 0; i < Packets; i++)
        {
            byte[] up = Payload(i, 100 + i);
            await client.SendChannelDataAsync(Channel, up);
            var (data, from) = await peer.ReceiveAsync();
            Assert.Equal(up, data);
            Assert.Equal(relayed.ToIPEndPoint(), from);

            byte[] down = Payload(i + 1000, 300 - i);
            await peer.SendAsync(down, relayed);
            byte[] channelData = await client.ReceiveAsync();
            Assert.Equal(Frame.ChannelData(Channel, down), channelData);
        }

        // Not one data packet reached the relay namespace's UDP sockets: XDP relayed them all.
        Assert.Equal(udpBefore, Relay.UdpInDatagrams());
        JsonElement statsAfter = await Relay.GetJsonAsync("/admin/ebpf/stats");
        string route = $"{(clientFamily == IpFamily.V4 ? 4 : 6)}{(peerFamily == IpFamily.V4 ? 4 : 6)}";
        Assert.Equal(Packets, RoutePackets(statsAfter, route, "client_to_peer") - RoutePackets(statsBefore, route, "client_to_peer"));
        Assert.Equal(Packets, RoutePackets(statsAfter, route, "peer_to_client") - RoutePackets(statsBefore, route, "peer_to_client"));

        // The admin API adds the kernel's counters to the allocation and its channel.
        JsonElement allocation = (await Relay.GetJsonAsync($"/admin/allocations?client={Uri.EscapeDataString(client.LocalEndPoint.ToString())}"))
            .GetProperty("items")[0];
        Assert.Equal("xdp", allocation.GetProperty("dataPath").GetString());
        JsonElement channel = allocation.GetProperty("channels")[0];
        Assert.Equal(Packets, channel.GetProperty("xdpTraffic").GetProperty("packetsFromClient").GetInt64());
        Assert.Equal(Packets, channel.GetProperty("xdpTraffic").GetProperty("packetsToClient").GetInt64());
        Assert.Equal(Packets, allocation.GetProperty("traffic").GetProperty("packetsToClient").GetInt64());

        if (clientFamily != peerFamily)
        {
            // The reference's first step only logged cross-family traffic; the finished relay says it went through XDP.
            await Eventually.TrueAsync(() => Relay.Relay.Output.Contains($"XDP relays cross-family traffic: route {route}, allocation port {relayed.Port}", StringComparison.Ordinal),
                "the cross-family first-traffic line");
        }
    }

    protected UdpTurnClient NewClient(IpFamily family)
    {
        Socket socket = Relay.Topology.Client.OpenUdp(new IPEndPoint(RelayTopology.Address("client", family), 0));
        var server = new IPEndPoint(RelayTopology.Address("relay", family), 3478);
        return new UdpTurnClient(socket, server, user: $"xdp-e2e-{Interlocked.Increment(ref _users)}");
    }

    protected UdpPeer NewPeer(IpFamily family) => new(Relay.Topology.Peer.OpenUdp(new IPEndPoint(RelayTopology.Address("peer", family), 0)));

    protected async Task<List<JsonElement>> Bindings(string map) =>
        (await Relay.GetJsonAsync($"/admin/ebpf/maps/{map}?limit=1000")).GetProperty("items").EnumerateArray().ToList();

    protected async Task<List<int>> LivePorts() =>
        (await Relay.GetJsonAsync("/admin/ebpf/maps/live_ports?limit=1000")).GetProperty("items").EnumerateArray()
            .Select(e => e.GetProperty("allocationPort").GetInt32()).ToList();

    private static long RoutePackets(JsonElement stats, string route, string direction) =>
        stats.GetProperty("routes").EnumerateArray()
            .Single(r => r.GetProperty("route").GetString() == route && r.GetProperty("direction").GetString() == direction)
            .GetProperty("packets").GetInt64();

    private static byte[] Payload(int seed, int length) => Frame.Payload(length, seed);
}
