using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>The real host relaying over real UDP sockets on loopback.</summary>
public sealed class RelayingTests : IClassFixture<RelayingTests.Host>
{
    private readonly RelayFactory _relay;

    public RelayingTests(Host host) => _relay = host.Factory;

    public sealed class Host : IDisposable
    {
        public RelayFactory Factory { get; } = new();

        public Host() => _ = Factory.Services; // start the host (and its UDP sockets)

        public void Dispose() => Factory.Dispose();
    }

    private static byte[] Payload(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 7)).ToArray();

    [Theory]
    [InlineData(AddressFamily.InterNetwork, null, AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6, IpFamily.V6, AddressFamily.InterNetworkV6)]
    [InlineData(AddressFamily.InterNetwork, IpFamily.V6, AddressFamily.InterNetworkV6)]
    [InlineData(AddressFamily.InterNetworkV6, IpFamily.V4, AddressFamily.InterNetwork)]
    public async Task Channel_data_is_relayed_both_ways(AddressFamily clientFamily, IpFamily? relayFamily, AddressFamily peerFamily)
    {
        var server = clientFamily == AddressFamily.InterNetwork ? _relay.ListenV4 : _relay.ListenV6;
        using var client = new UdpTurnClient(server, user: $"channel-{clientFamily}-{relayFamily}");
        using var peer = new UdpPeer(peerFamily);
        TransportAddress relayed = await client.AllocateAsync(relayFamily);
        Assert.Equal(peerFamily == AddressFamily.InterNetwork ? IpFamily.V4 : IpFamily.V6, relayed.Family);
        await client.ChannelBindAsync(0x4000, peer.EndPoint);

        byte[] up = Payload(100);
        await client.SendChannelDataAsync(0x4000, up);
        var (data, from) = await peer.ReceiveAsync();
        Assert.Equal(up, data);
        Assert.Equal(relayed.ToIPEndPoint(), from);

        byte[] down = Payload(333);
        await peer.SendAsync(down, relayed);
        byte[] received = await client.ReceiveAsync();
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(received));
        Assert.Equal(down.Length, BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(2)));
        Assert.Equal(down, received[4..]);
    }

    [Fact]
    public async Task Send_and_data_indications_are_relayed_with_a_permission()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, user: "indications");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();

        long unpermitted = _relay.Runtime.Engine!.Counters.Drops(DropReason.NoPermission);
        await client.SendIndicationAsync(peer.EndPoint, [1, 2, 3]);
        await Eventually.TrueAsync(() => _relay.Runtime.Engine!.Counters.Drops(DropReason.NoPermission) > unpermitted,
            "the indication without a permission to be dropped");
        Assert.Equal(0, peer.Available); // the relay decided, and sent nothing
        await client.CreatePermissionAsync(peer.EndPoint);
        await client.SendIndicationAsync(peer.EndPoint, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await peer.ReceiveAsync()).Data);

        await peer.SendAsync([9, 8, 7, 6, 5], relayed);
        var indication = Msg.Parse(await client.ReceiveAsync());
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.Equal(new byte[] { 9, 8, 7, 6, 5 }, indication.Get(StunAttr.Data));
        Assert.Equal(TransportAddress.FromIPEndPoint(peer.EndPoint), indication.GetXorAddress(StunAttr.XorPeerAddress));
    }

    [Fact]
    public async Task Binding_answers_with_the_mapped_address()
    {
        using var client = new UdpTurnClient(_relay.ListenV6);
        var response = await client.ExchangeAsync(new MessageSpec(StunMethod.Binding).Build(fingerprint: true));
        Assert.True(response.IsSuccess);
        Assert.Equal(TransportAddress.FromIPEndPoint(client.LocalEndPoint), response.GetXorAddress(StunAttr.XorMappedAddress));
    }

    [Fact]
    public async Task Refresh_zero_deletes_the_allocation_and_closes_its_socket()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, user: "refresh-zero");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        int sockets = _relay.Runtime.AllocationSocketCount;

        var response = await client.RefreshAsync(0);
        Assert.True(response.IsSuccess);
        Assert.Equal(0u, response.GetUInt32(StunAttr.Lifetime));
        Assert.Equal(sockets - 1, _relay.Runtime.AllocationSocketCount);

        AssertPortIsClosed(relayed); // no socket left that could relay a peer's datagram
        Assert.Equal(437, (await client.RefreshAsync(600)).ErrorCode);
    }

    /// <summary>Binding the relayed address ourselves succeeds only once the relay's socket on it is closed.</summary>
    internal static void AssertPortIsClosed(TransportAddress relayed)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(relayed.ToIPEndPoint());
    }

    [Fact]
    public async Task Bursts_keep_every_datagram_boundary_and_their_order_in_both_directions()
    {
        // Back-to-back datagrams land in one receive batch and leave as sendmmsg/GSO groups: same-size runs, a
        // shorter last one, and size changes must all come out as the individual datagrams that went in.
        using var client = new UdpTurnClient(_relay.ListenV4, user: "bursts");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4002, peer.EndPoint);
        int[] sizes = [.. Enumerable.Repeat(120, 40), 60, .. Enumerable.Repeat(120, 5), 1, 0, 1, 1, 0, .. Enumerable.Repeat(500, 20), 499, 1200];
        byte[] Datagram(int index, int size) => Enumerable.Range(0, size).Select(i => (byte)(index + i)).ToArray();

        for (int i = 0; i < sizes.Length; i++)
        {
            await peer.SendAsync(Datagram(i, sizes[i]), relayed);
        }

        for (int i = 0; i < sizes.Length; i++)
        {
            byte[] received = await client.ReceiveAsync();
            Assert.Equal(0x4002, BinaryPrimitives.ReadUInt16BigEndian(received));
            Assert.Equal(sizes[i], BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(2)));
            Assert.Equal(Datagram(i, sizes[i]), received[4..]);
        }

        for (int i = 0; i < sizes.Length; i++)
        {
            await client.SendChannelDataAsync(0x4002, Datagram(i, sizes[i]));
        }

        for (int i = 0; i < sizes.Length; i++)
        {
            var (data, from) = await peer.ReceiveAsync();
            Assert.Equal(relayed.ToIPEndPoint(), from);
            Assert.Equal(Datagram(i, sizes[i]), data);
        }

        // Whether the bursts above shared a receive batch depends on scheduling; 30 datagrams that arrive together
        // certainly do, and must leave as a group, each still intact.
        long coalesced = _relay.Runtime.CoalescedDatagrams;
        var together = new byte[30 * 120];
        for (int i = 0; i < together.Length; i++)
        {
            together[i] = (byte)(i / 120);
        }

        peer.SendSegmented(together, 120, relayed);
        for (int i = 0; i < 30; i++)
        {
            byte[] received = await client.ReceiveAsync();
            Assert.Equal(120, BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(2)));
            Assert.All(received[4..], b => Assert.Equal((byte)i, b));
        }

        Assert.True(_relay.Runtime.CoalescedDatagrams > coalesced, "no burst went out as a GSO group, so the grouping was not exercised");
    }

    [Fact]
    public async Task A_flooding_peer_does_not_starve_another_allocation()
    {
        using var busyClient = new UdpTurnClient(_relay.ListenV4, user: "busy");
        using var quietClient = new UdpTurnClient(_relay.ListenV4, user: "quiet");
        using var busyPeer = new UdpPeer(AddressFamily.InterNetwork);
        using var quietPeer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress busyRelay = await busyClient.AllocateAsync();
        TransportAddress quietRelay = await quietClient.AllocateAsync();
        await busyClient.ChannelBindAsync(0x4000, busyPeer.EndPoint);
        await quietClient.ChannelBindAsync(0x4000, quietPeer.EndPoint);

        // 20,000 datagrams at the busy allocation while the quiet one gets 100, interleaved.
        var flood = Task.Run(async () =>
        {
            var payload = new byte[200];
            for (int i = 0; i < 20_000; i++)
            {
                await busyPeer.SendAsync(payload, busyRelay);
            }
        });
        for (int i = 0; i < 100; i++)
        {
            await quietPeer.SendAsync(BitConverter.GetBytes(i), quietRelay);
            await Task.Delay(1);
        }

        await flood;
        int received = 0;
        try
        {
            while (received < 100)
            {
                await quietClient.ReceiveAsync(TimeSpan.FromMilliseconds(500));
                received++;
            }
        }
        catch (OperationCanceledException)
        {
        }

        Assert.True(received >= 98, $"the quiet allocation got {received} of 100 datagrams while another was flooded");
    }

    [Fact]
    public async Task Malformed_datagrams_are_survived()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, user: "garbage");
        var random = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(0, 120)];
            random.NextBytes(junk);
            await client.SendChannelDataAsync(0x4000, junk); // unbound channel
            using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            await raw.SendToAsync(junk, _relay.ListenV4);
        }

        Assert.True((await client.ExchangeAsync(new MessageSpec(StunMethod.Binding).Build())).IsSuccess);
        Assert.True(_relay.Runtime.UdpReady);
    }
}

/// <summary>Expiry driven by a fake clock, on a host of its own.</summary>
public sealed class ExpiryTests : IDisposable
{
    private readonly RelayFactory _relay = new();

    [Fact]
    public async Task An_unrefreshed_allocation_expires_and_its_port_closes()
    {
        _ = _relay.Services;
        using var client = new UdpTurnClient(_relay.ListenV4, user: "expiry");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4000, peer.EndPoint);
        Assert.Equal(1, _relay.Runtime.AllocationSocketCount);

        await _relay.AdvanceAsync(TimeSpan.FromSeconds(599));
        Assert.Equal(1, _relay.Runtime.AllocationSocketCount);
        await _relay.AdvanceAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(0, _relay.Runtime.AllocationSocketCount);

        RelayingTests.AssertPortIsClosed(relayed); // no socket left that could relay a peer's datagram
        Assert.Equal(437, (await client.RefreshAsync(600)).ErrorCode);
    }

    public void Dispose() => _relay.Dispose();
}
