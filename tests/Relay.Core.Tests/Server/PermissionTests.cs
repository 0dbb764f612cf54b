using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Server;

public class PermissionTests
{
    private readonly TestRelay _relay = new();
    private static readonly PeerSocket Peer = PeerSocket.Parse("192.0.2.10:5000");

    [Fact]
    public void Peer_data_without_a_permission_is_dropped()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        var (route, _) = _relay.FromPeer(Peer, port, [1, 2, 3]);
        Assert.False(route.ShouldSend);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.NoPermission));
    }

    [Fact]
    public void A_permission_lets_the_peer_ip_send_data_indications_from_any_port_for_300_seconds()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        var response = client.CreatePermission("192.0.2.10:1");
        Assert.True(response.IsSuccess);
        Assert.True(response.VerifyIntegrity(client.Key));

        byte[] payload = [1, 2, 3, 4, 5];
        var (route, sent) = _relay.FromPeer(PeerSocket.Parse("192.0.2.10:7777"), port, payload);
        Assert.True(route.ShouldSend);
        Assert.Equal(client.Socket, route.Client);
        var indication = Msg.Parse(sent);
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.Equal(StunClass.Indication, indication.Class);
        Assert.Equal(TransportAddress.Parse("192.0.2.10:7777"), indication.GetXorAddress(StunAttr.XorPeerAddress));
        Assert.Equal(payload, indication.Get(StunAttr.Data));
        Assert.Equal(0, sent.Length % 4);

        _relay.Advance(TimeSpan.FromSeconds(299));
        Assert.True(_relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        _relay.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        Assert.Equal(0, _relay.Server.PermissionCount);
    }

    [Fact]
    public void Data_indications_for_ipv6_peers_fill_the_whole_headroom()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate(spec => spec.Family(StunAttr.RequestedAddressFamily, IpFamily.V6)));
        client.CreatePermission("[2001:db8::10]:1");
        var (route, sent) = relay.FromPeer(PeerSocket.Parse("[2001:db8::10]:9"), port, [9, 8, 7]);
        Assert.Equal(0, route.Offset);
        var indication = Msg.Parse(sent);
        Assert.Equal(TransportAddress.Parse("[2001:db8::10]:9"), indication.GetXorAddress(StunAttr.XorPeerAddress));
        Assert.Equal(new byte[] { 9, 8, 7 }, indication.Get(StunAttr.Data));
    }

    [Fact]
    public void A_refresh_of_a_permission_extends_it()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        client.CreatePermission("192.0.2.10:1");
        _relay.Advance(TimeSpan.FromSeconds(200));
        client.CreatePermission("192.0.2.10:1");
        _relay.Advance(TimeSpan.FromSeconds(200));
        Assert.True(_relay.FromPeer(Peer, port, [1]).Route.ShouldSend);
    }

    [Fact]
    public void Create_permission_needs_a_peer_address()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.CreatePermission)).ErrorCode);
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.CreatePermission).Add(StunAttr.XorPeerAddress, [0, 1, 2])).ErrorCode);
    }

    [Fact]
    public void Loopback_and_other_forbidden_peers_get_403_and_nothing_is_installed()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        foreach (string forbidden in new[] { "127.0.0.1:80", "0.0.0.0:80", "169.254.169.254:80", "224.0.0.1:80", "255.255.255.255:80" })
        {
            Assert.Equal(403, client.CreatePermission("192.0.2.10:1", forbidden).ErrorCode);
        }

        Assert.Equal(0, _relay.Server.PermissionCount);
        Assert.Contains(_relay.Events, e => e is PeerRefused { Reason: Relay.Core.Policy.PeerDenial.Loopback });
    }

    [Fact]
    public void Loopback_peers_are_allowed_when_configured()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(allowLoopback: true));
        var client = relay.Client("127.0.0.1:40000");
        client.Allocate();
        Assert.True(client.CreatePermission("127.0.0.1:9000").IsSuccess);
        Assert.Equal(403, client.CreatePermission("127.0.0.1:3478").ErrorCode); // the relay's own listening port
    }

    [Fact]
    public void The_relays_interface_addresses_are_refused_on_the_listening_port()
    {
        var defaults = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions
        {
            PublicIPv4 = defaults.PublicIPv4, RelaySecret = TestRelay.Secret, LocalAddresses = [IpAddr.Parse("10.0.0.5")],
            Peers = defaults.Peers with { AllowPrivate = true },
        });
        var client = relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.Equal(403, client.ChannelBind(0x4000, "10.0.0.5:3478").ErrorCode);
        Assert.Equal(403, client.CreatePermission("203.0.113.1:3478").ErrorCode);
        Assert.True(client.ChannelBind(0x4000, "10.0.0.5:50000").IsSuccess); // another allocation of this relay
    }

    [Fact]
    public void A_peer_of_a_family_the_allocation_lacks_is_443()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.Equal(443, client.CreatePermission("[2001:db8::10]:1").ErrorCode);
    }

    [Fact]
    public void Permissions_per_allocation_are_capped_with_508()
    {
        var options = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions { PublicIPv4 = options.PublicIPv4, RelaySecret = TestRelay.Secret, MaxPermissionsPerAllocation = 2, Peers = options.Peers });
        var client = relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.True(client.CreatePermission("192.0.2.1:1", "192.0.2.2:1").IsSuccess);
        Assert.True(client.CreatePermission("192.0.2.1:1").IsSuccess); // a refresh needs no room
        Assert.Equal(508, client.CreatePermission("192.0.2.3:1").ErrorCode);
    }

    [Fact]
    public void Send_indication_relays_the_data_attribute_in_place_when_permitted()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        client.CreatePermission("192.0.2.10:1");
        byte[] data = [10, 20, 30, 40, 50, 60, 70];
        var (route, datagram) = client.SendIndication("192.0.2.10:5000", data);
        Assert.True(route.ShouldRelay);
        Assert.Equal(port, route.Port);
        Assert.Equal(Peer, route.Peer);
        Assert.Equal(data, datagram.AsSpan(route.PayloadOffset, route.PayloadLength).ToArray());
        Assert.Empty(_relay.Drain()); // indications are never answered
    }

    [Fact]
    public void Send_indications_without_permission_or_data_or_to_a_forbidden_peer_are_dropped()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.False(client.SendIndication("192.0.2.10:5000", [1]).Route.ShouldRelay);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.NoPermission));

        client.CreatePermission("192.0.2.10:1");
        byte[] noData = new MessageSpec(StunMethod.Send, StunClass.Indication).Peer("192.0.2.10:5000").Build();
        Assert.False(_relay.Server.HandleClientInput(noData, client.Socket, _relay.Now).ShouldRelay);
        Assert.False(client.SendIndication("127.0.0.1:5000", [1]).Route.ShouldRelay);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.PeerRefused));
        Assert.False(client.SendIndication("[2001:db8::1]:5000", [1]).Route.ShouldRelay);
        Assert.Equal(2, _relay.Server.Counters.Drops(DropReason.BadIndication));
    }

    [Fact]
    public void Send_indications_from_a_client_without_an_allocation_are_dropped()
    {
        var (route, _) = _relay.Client("198.51.100.7:40000").SendIndication("192.0.2.10:5000", [1]);
        Assert.False(route.ShouldRelay);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.NoAllocation));
    }

    [Fact]
    public void Peer_data_on_an_unknown_port_is_dropped()
    {
        Assert.False(_relay.FromPeer(Peer, new AllocationPort(50000), [1]).Route.ShouldSend);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.UnknownAllocationPort));
    }

    [Fact]
    public void A_peer_buffer_without_headroom_is_a_host_bug()
    {
        Assert.Throws<ArgumentException>(() => _relay.Server.HandlePeerInput(new byte[100], 4, 10, Peer, new AllocationPort(50000), _relay.Now));
    }

    [Fact]
    public void Counters_split_traffic_by_direction_and_route()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        client.CreatePermission("192.0.2.10:1");
        client.SendIndication("192.0.2.10:5000", new byte[30]);
        _relay.FromPeer(Peer, port, new byte[20]);
        Assert.Equal(1, _relay.Server.Counters.Packets(RelayDirection.ClientToPeer, IpFamily.V4, IpFamily.V4));
        Assert.Equal(30, _relay.Server.Counters.Bytes(RelayDirection.ClientToPeer, IpFamily.V4, IpFamily.V4));
        Assert.Equal(20, _relay.Server.Counters.Bytes(RelayDirection.PeerToClient, IpFamily.V4, IpFamily.V4));
        Assert.Equal(50, _relay.Server.Counters.TotalBytes());
        Assert.Equal("46", RelayCounters.RouteName(IpFamily.V4, IpFamily.V6));
    }
}
