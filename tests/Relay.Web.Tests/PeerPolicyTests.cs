using System.Net;
using System.Net.Sockets;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>
/// The peer policy over real UDP with the default flags: every address the hardening work lists, in each spelling,
/// is refused on each path that names a peer (CreatePermission and ChannelBind get 403, a Send indication is
/// dropped and counted); an <c>--allowed-peer-ip</c> block is the exception that works.
/// </summary>
public sealed class PeerPolicyTests : IDisposable
{
    private readonly RelayFactory _relay = new(new() { ["allow-loopback-peers"] = "false" });

    public static TheoryData<string> RefusedPeers => new()
    {
        "[::ffff:127.0.0.1]:5000", "[::127.0.0.1]:5000", "[2002:7f00:1::]:5000", "[64:ff9b::7f00:1]:5000", "[::ffff:0.0.0.0]:5000",
        "169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[64:ff9b::a9fe:a9fe]:80", "[fe80::1]:5000", "[fc00::1]:5000",
        "[fd12:3456::99]:5000", "[fec0::1]:5000", "0.0.0.0:5000", "[::]:5000", "[::1]:5000", "127.0.0.1:5000", "10.1.2.3:5000",
        "172.16.0.9:5000", "172.31.255.1:5000", "192.168.1.1:5000", "100.64.0.1:5000", "100.127.0.1:5000", "224.0.0.1:5000",
        "255.255.255.255:5000", "192.0.2.1:5000", "[2001:db8::1]:5000",
    };

    [Theory]
    [MemberData(nameof(RefusedPeers))]
    public async Task Every_path_refuses_the_peer(string peerText)
    {
        using var client = await DualStackClientAsync("refused");
        var peer = IPEndPoint.Parse(peerText);

        var permission = await client.RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer(peerText));
        var channel = await client.RequestAsync(() => new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4000).Peer(peerText));
        Assert.Equal(403, permission.ErrorCode);
        Assert.Equal(403, channel.ErrorCode);

        // A Send indication is never answered: the counter is the event that says it was refused, not relayed.
        long refused = RefusedCount();
        await client.SendIndicationAsync(peer, [1, 2, 3]);
        await Eventually.TrueAsync(() => RefusedCount() == refused + 1, "the Send indication to be refused");
        Assert.Equal(0, _relay.Runtime.Engine!.PermissionCount);
        Assert.Equal(0, _relay.Runtime.Engine!.BoundChannelCount);
    }

    [Fact]
    public async Task An_allowed_peer_ip_block_is_the_exception_that_works()
    {
        using var relay = new RelayFactory(new() { ["allow-loopback-peers"] = "false", ["allowed-peer-ip"] = "127.0.0.1/32" });
        using var client = new UdpTurnClient(relay.ListenV4, "allowed");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();

        await client.ChannelBindAsync(0x4000, peer.EndPoint);
        await client.SendChannelDataAsync(0x4000, [7, 7]);
        Assert.Equal([7, 7], (await peer.ReceiveAsync()).Data);
        await peer.SendAsync([8, 8, 8], relayed);
        Assert.Equal([8, 8, 8], (await client.ReceiveAsync())[4..]);

        // The rest of loopback is outside the allowed block and stays refused.
        var outside = await client.RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer("127.0.0.2:5000"));
        Assert.Equal(403, outside.ErrorCode);
    }

    [Fact]
    public async Task A_refused_private_peer_is_logged_with_the_flag_that_allows_it()
    {
        var logs = new Relay.Web.Tests.Portal.LogCapture();
        using var relay = new RelayFactory(new() { ["log-filter"] = "info" }) { Logs = logs };
        using var client = new UdpTurnClient(relay.ListenV4, "logged");
        await client.AllocateAsync();

        Assert.Equal(403, (await client.RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer("10.1.2.3:5000"))).ErrorCode);

        Assert.Contains(logs.Entries, e => e.Message.Contains("Refused peer 10.1.2.3:5000", StringComparison.Ordinal)
            && e.Message.Contains("a private address; allow it with --allowed-peer-ip 10.1.2.3 (or --allow-private-peers in a lab)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_loopback_peer_reaches_no_allocation()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "unpermitted");
        TransportAddress relayed = await client.AllocateAsync();
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        Assert.Equal(403, (await client.RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer(peer.EndPoint.ToString()))).ErrorCode);
        long dropped = NoPermissionDrops();

        await peer.SendAsync([9], relayed);

        await Eventually.TrueAsync(() => NoPermissionDrops() > dropped, "the loopback peer's datagram to be dropped");
        Assert.Equal(0, client.Available); // dropped, so nothing was sent to the client
    }

    private long NoPermissionDrops() => _relay.Runtime.Engine!.Counters.Drops(Relay.Core.Server.DropReason.NoPermission);

    private long RefusedCount()
    {
        long sum = 0;
        foreach (PeerDenial reason in Enum.GetValues<PeerDenial>())
        {
            sum += _relay.Runtime.Engine!.Counters.PeersRefused(reason);
        }

        return sum;
    }

    /// <summary>A client with an IPv4 and IPv6 allocation, so every peer family reaches the policy (not a 443).</summary>
    private async Task<UdpTurnClient> DualStackClientAsync(string user)
    {
        var client = new UdpTurnClient(_relay.ListenV4, user);
        var response = await client.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport().Family(StunAttr.AdditionalAddressFamily, IpFamily.V6));
        Assert.True(response.IsSuccess, $"Allocate failed: {response}");
        return client;
    }

    public void Dispose() => _relay.Dispose();
}
