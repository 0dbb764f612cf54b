using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Server;

public class ChannelTests
{
    private readonly TestRelay _relay = new();
    private const string PeerText = "192.0.2.10:5000";
    private static readonly PeerSocket Peer = PeerSocket.Parse(PeerText);

    private (TestClient Client, AllocationPort Port) Allocated(TestRelay? relay = null, string address = "198.51.100.7:40000")
    {
        relay ??= _relay;
        var client = relay.Client(address);
        var port = client.AllocatedPort(client.Allocate());
        relay.Drain();
        return (client, port);
    }

    [Fact]
    public void The_fast_path_entry_is_queued_before_the_channel_bind_success()
    {
        var (client, port) = Allocated();
        client.Challenge();
        _relay.Server.HandleClientInput(client.Sign(new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4000).Peer(PeerText)), client.Socket, _relay.Now);
        var commands = _relay.Drain();
        Assert.Equal(new AddChannelBinding(client.Socket, new ChannelNumber(0x4000), Peer, port), commands[0]);
        var response = Msg.Parse(Assert.IsType<SendToClient>(commands[1]).Payload);
        Assert.True(response.IsSuccess);
        Assert.Equal(StunMethod.ChannelBind, response.Method);
        Assert.True(response.VerifyIntegrity(client.Key));
        Assert.Equal(1, _relay.Server.BoundChannelCount);
    }

    [Fact]
    public void Channel_data_is_routed_both_ways_without_copies()
    {
        var (client, port) = Allocated();
        client.ChannelBind(0x4000, PeerText);

        byte[] payload = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        var route = client.SendChannelData(0x4000, payload);
        Assert.True(route.ShouldRelay);
        Assert.Equal(port, route.Port);
        Assert.Equal(Peer, route.Peer);
        Assert.Equal(4, route.PayloadOffset);
        Assert.Equal(payload.Length, route.PayloadLength);

        var (back, sent) = _relay.FromPeer(Peer, port, payload);
        Assert.True(back.ShouldSend);
        Assert.Equal(client.Socket, back.Client);
        Assert.Equal(RelayServer.PeerHeadroom - 4, back.Offset);
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(sent));
        Assert.Equal(payload.Length, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(2)));
        Assert.Equal(payload, sent.AsSpan(4).ToArray());
    }

    [Fact]
    public void Padded_channel_data_is_accepted_and_short_channel_data_dropped()
    {
        var (client, _) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        var route = client.SendChannelData(0x4000, [1, 2, 3], padding: 1);
        Assert.True(route.ShouldRelay);
        Assert.Equal(3, route.PayloadLength);

        byte[] truncated = [0x40, 0x00, 0x00, 0x08, 1, 2];
        Assert.False(_relay.Server.HandleClientInput(truncated, client.Socket, _relay.Now).ShouldRelay);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.MalformedChannelData));
    }

    [Fact]
    public void Channel_data_on_an_unbound_channel_or_from_another_client_is_dropped()
    {
        var (client, _) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        Assert.False(client.SendChannelData(0x4001, [1]).ShouldRelay);
        var stranger = _relay.Client("198.51.100.99:1234", salt: "stranger");
        Assert.False(stranger.SendChannelData(0x4000, [1]).ShouldRelay);
        Assert.Equal(2, _relay.Server.Counters.Drops(DropReason.UnknownChannel));
    }

    [Theory]
    [InlineData(0x3FFF, false, 400)]
    [InlineData(0x4000, false, 0)]
    [InlineData(0x4FFF, false, 0)]
    [InlineData(0x5000, false, 400)]
    [InlineData(0x5000, true, 0)]
    [InlineData(0x7FFF, true, 0)]
    [InlineData(0x8000, true, 400)]
    public void Channel_numbers_follow_the_configured_range(int number, bool rfc5766, int code)
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(channels: rfc5766 ? ChannelNumberRange.Rfc5766 : ChannelNumberRange.Rfc8656));
        var (client, _) = Allocated(relay);
        Assert.Equal(code, client.ChannelBind((ushort)number, PeerText).ErrorCode);
        if (code == 0)
        {
            Assert.True(client.SendChannelData((ushort)number, [1]).ShouldRelay);
        }
    }

    [Fact]
    public void Strict_relays_drop_channel_data_above_0x4fff()
    {
        var (client, _) = Allocated();
        Assert.False(client.SendChannelData(0x5000, [1]).ShouldRelay);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.ChannelOutOfRange));
    }

    [Fact]
    public void A_channel_cannot_be_rebound_to_another_peer_nor_a_peer_to_another_channel()
    {
        var (client, _) = Allocated();
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.Equal(400, client.ChannelBind(0x4000, "192.0.2.11:5000").ErrorCode);
        Assert.Equal(400, client.ChannelBind(0x4001, PeerText).ErrorCode);
        Assert.True(client.ChannelBind(0x4001, "192.0.2.10:5001").IsSuccess); // another port is another peer
    }

    [Fact]
    public void Missing_attributes_are_400()
    {
        var (client, _) = Allocated();
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4000)).ErrorCode);
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.ChannelBind).Peer(PeerText)).ErrorCode);
    }

    [Fact]
    public void Binding_a_forbidden_or_wrong_family_peer_fails()
    {
        var (client, _) = Allocated();
        Assert.Equal(403, client.ChannelBind(0x4000, "127.0.0.1:5000").ErrorCode);
        Assert.Equal(443, client.ChannelBind(0x4000, "[::ffff:127.0.0.1]:5000").ErrorCode); // an IPv6 peer for an IPv4 relay
        Assert.Equal(443, client.ChannelBind(0x4000, "[2001:db8::1]:5000").ErrorCode);
        Assert.Empty(_relay.FastPath);
    }

    [Theory]
    [InlineData("[::ffff:127.0.0.1]:5000")]
    [InlineData("[::127.0.0.1]:5000")]
    [InlineData("[64:ff9b::7f00:1]:5000")]
    [InlineData("[2002:7f00:1::]:5000")]
    [InlineData("[::ffff:169.254.169.254]:80")]
    [InlineData("[::]:5000")]
    [InlineData("[::1]:5000")]
    [InlineData("[fe80::1]:5000")]
    [InlineData("[ff02::1]:5000")]
    [InlineData("[2001:0:4136:e378::1]:5000")]
    public void Ipv6_forms_of_forbidden_addresses_are_refused(string peer)
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        client.Allocate(spec => spec.Family(StunAttr.RequestedAddressFamily, IpFamily.V6));
        Assert.Equal(403, client.ChannelBind(0x4000, peer).ErrorCode);
        Assert.Equal(403, client.CreatePermission(peer).ErrorCode);
    }

    [Fact]
    public void Channel_bind_without_an_allocation_is_437()
    {
        var client = _relay.Client("198.51.100.7:40000");
        Assert.Equal(437, client.ChannelBind(0x4000, PeerText).ErrorCode);
    }

    [Fact]
    public void A_refresh_keeps_the_binding_without_a_second_fast_path_entry()
    {
        var (client, _) = Allocated();
        client.Refresh(3600);
        client.ChannelBind(0x4000, PeerText);
        _relay.Advance(TimeSpan.FromSeconds(500));
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.Single(_relay.History.OfType<AddChannelBinding>());
        _relay.Advance(TimeSpan.FromSeconds(500)); // 1000 s after the first bind, 500 after the refresh
        Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay);
        Assert.Contains(_relay.Events, e => e is ChannelBound { Refresh: true });
    }

    [Fact]
    public void A_channel_expires_after_600_seconds_and_its_number_and_peer_are_held_for_300_more()
    {
        var (client, port) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        client.Refresh(3600);
        _relay.Drain();

        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(600));
        var removed = Assert.Single(_relay.Drain());
        Assert.Equal(new RemoveChannelBinding(client.Socket, new ChannelNumber(0x4000), Peer, port), removed);
        Assert.False(client.SendChannelData(0x4000, [1]).ShouldRelay);
        Assert.False(_relay.FromPeer(Peer, port, [1]).Route.ShouldSend); // permission (300 s) lapsed too
        Assert.Contains(_relay.Events, e => e is ChannelExpired);

        // During the cool-down neither the number nor the peer may be bound to something else...
        Assert.Equal(400, client.ChannelBind(0x4000, "192.0.2.11:5000").ErrorCode);
        Assert.Equal(400, client.ChannelBind(0x4001, PeerText).ErrorCode);

        // ...and afterwards both may.
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(300));
        Assert.True(client.ChannelBind(0x4000, "192.0.2.11:5000").IsSuccess);
        Assert.True(client.ChannelBind(0x4001, PeerText).IsSuccess);
    }

    [Fact]
    public void Rebinding_the_same_pair_during_the_cool_down_reinstalls_the_fast_path()
    {
        var (client, _) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        client.Refresh(3600);
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(650));
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.Equal(2, _relay.History.OfType<AddChannelBinding>().Count());
        Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay);
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(599));
        Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay);
    }

    [Fact]
    public void A_channel_bind_installs_a_permission_for_the_peer_ip()
    {
        var (client, port) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        // Another port of the same IP has no channel: it gets a Data indication.
        var (route, sent) = _relay.FromPeer(PeerSocket.Parse("192.0.2.10:6000"), port, [7]);
        Assert.True(route.ShouldSend);
        Assert.Equal(StunMethod.Data, Msg.Parse(sent).Method);
        Assert.True(client.SendIndication("192.0.2.10:6000", [7]).Route.ShouldRelay);
    }

    [Fact]
    public void A_bound_channel_keeps_relaying_after_the_permission_it_installed_lapses()
    {
        var (client, port) = Allocated();
        client.ChannelBind(0x4000, PeerText);
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(400));
        Assert.True(_relay.FromPeer(Peer, port, [1]).Route.ShouldSend);
        Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay);
    }

    [Fact]
    public void Channels_per_allocation_are_capped_with_508()
    {
        var options = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions { PublicIPv4 = options.PublicIPv4, RelaySecret = TestRelay.Secret, MaxChannelsPerAllocation = 1, Peers = options.Peers });
        var (client, _) = Allocated(relay);
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.Equal(508, client.ChannelBind(0x4001, "192.0.2.11:5000").ErrorCode);
    }

    [Fact]
    public void Cross_family_a_v4_client_relays_to_a_v6_peer_through_its_v6_relayed_address()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate(spec => spec.Family(StunAttr.RequestedAddressFamily, IpFamily.V6)));
        Assert.True(client.ChannelBind(0x4000, "[2001:db8::10]:5000").IsSuccess);
        var route = client.SendChannelData(0x4000, [1, 2]);
        Assert.Equal(PeerSocket.Parse("[2001:db8::10]:5000"), route.Peer);
        Assert.Equal(port, route.Port);
        var (back, _) = relay.FromPeer(PeerSocket.Parse("[2001:db8::10]:5000"), port, [3]);
        Assert.Equal(client.Socket, back.Client);
        Assert.Equal(1, relay.Server.Counters.Packets(RelayDirection.ClientToPeer, IpFamily.V4, IpFamily.V6));
        Assert.Equal(1, relay.Server.Counters.Packets(RelayDirection.PeerToClient, IpFamily.V4, IpFamily.V6));
    }

    [Fact]
    public void Cross_family_a_v6_client_relays_to_a_v4_peer()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("[2001:db8::7]:40000");
        var port = client.AllocatedPort(client.Allocate());
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay);
        Assert.Equal(client.Socket, relay.FromPeer(Peer, port, [1]).Route.Client);
        Assert.Equal(1, relay.Server.Counters.Packets(RelayDirection.ClientToPeer, IpFamily.V6, IpFamily.V4));
    }

    [Fact]
    public void A_dual_allocation_relays_to_peers_of_both_families()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        client.Allocate(spec => spec.Family(StunAttr.AdditionalAddressFamily, IpFamily.V6));
        Assert.True(client.ChannelBind(0x4000, PeerText).IsSuccess);
        Assert.True(client.ChannelBind(0x4001, "[2001:db8::10]:5000").IsSuccess);
        Assert.Equal(PeerSocket.Parse("[2001:db8::10]:5000"), client.SendChannelData(0x4001, [1]).Peer);
    }
}
