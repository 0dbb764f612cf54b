using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Server;
using Relay.Core.Tests.Support;
using Relay.Core.Time;

namespace Relay.Core.Tests.Server;

/// <summary>The per-allocation bandwidth cap (--max-bps): one token bucket per allocation and direction.</summary>
public class BandwidthCapTests
{
    private const string PeerText = "192.0.2.10:5000";
    private static readonly PeerSocket Peer = PeerSocket.Parse(PeerText);
    private const long Rate = 100_000; // bytes/s: a 100,000-byte bucket refilled at 100 bytes per millisecond

    private static (TestRelay Relay, TestClient Client, AllocationPort Port) Allocated(long rate = Rate)
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(maxBps: rate));
        var client = relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        client.ChannelBind(0x4000, PeerText);
        relay.Drain();
        return (relay, client, port);
    }

    [Fact]
    public void Channel_data_beyond_the_budget_is_dropped_and_counted_until_it_refills()
    {
        var (relay, client, _) = Allocated();
        byte[] payload = new byte[1000];
        for (int i = 0; i < 100; i++)
        {
            Assert.True(client.SendChannelData(0x4000, payload).ShouldRelay, $"packet {i} is within the one-second burst");
        }

        Assert.False(client.SendChannelData(0x4000, payload).ShouldRelay);
        Assert.Equal(1, relay.Server.Counters.Drops(DropReason.OverBandwidth));

        relay.Advance(TimeSpan.FromMilliseconds(9)); // 900 bytes: still not a whole packet
        Assert.False(client.SendChannelData(0x4000, payload).ShouldRelay);
        relay.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(client.SendChannelData(0x4000, payload).ShouldRelay);

        var snapshot = Assert.Single(relay.Server.SnapshotAllocations());
        Assert.Equal(2, snapshot.PacketsOverBandwidth);
        Assert.Equal(101, snapshot.PacketsFromClient); // dropped packets are not counted as relayed
    }

    [Fact]
    public void The_directions_have_separate_budgets()
    {
        var (relay, client, port) = Allocated();
        byte[] payload = new byte[50_000];
        Assert.True(client.SendChannelData(0x4000, payload).ShouldRelay);
        Assert.True(client.SendChannelData(0x4000, payload).ShouldRelay);
        Assert.False(client.SendChannelData(0x4000, payload).ShouldRelay);

        Assert.True(relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        Assert.True(relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        Assert.False(relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        Assert.Equal(2, relay.Server.Counters.Drops(DropReason.OverBandwidth));
    }

    [Fact]
    public void Send_and_data_indications_share_the_budget_of_their_direction()
    {
        var (relay, client, port) = Allocated();
        Assert.True(client.CreatePermission("192.0.2.11:6000").IsSuccess);
        var other = PeerSocket.Parse("192.0.2.11:6000");
        byte[] payload = new byte[40_000];

        Assert.True(client.SendChannelData(0x4000, payload).ShouldRelay);
        Assert.True(client.SendIndication("192.0.2.11:6000", payload).Route.ShouldRelay);
        Assert.False(client.SendChannelData(0x4000, payload).ShouldRelay);
        Assert.True(relay.FromPeer(other, port, payload).Route.ShouldSend); // a Data indication
        Assert.True(relay.FromPeer(Peer, port, payload).Route.ShouldSend);
        Assert.False(relay.FromPeer(other, port, payload).Route.ShouldSend);
        Assert.Equal(2, relay.Server.Counters.Drops(DropReason.OverBandwidth));
    }

    [Fact]
    public void Each_allocation_has_its_own_budget()
    {
        var (relay, client, _) = Allocated();
        var second = relay.Client("198.51.100.8:40000", salt: "another-salt-xyz");
        second.Allocate();
        second.ChannelBind(0x4000, PeerText);

        byte[] half = new byte[50_000];
        Assert.True(client.SendChannelData(0x4000, half).ShouldRelay);
        Assert.True(client.SendChannelData(0x4000, half).ShouldRelay);
        Assert.False(client.SendChannelData(0x4000, [1]).ShouldRelay);
        Assert.True(second.SendChannelData(0x4000, half).ShouldRelay);
        Assert.True(second.SendChannelData(0x4000, half).ShouldRelay);
    }

    [Fact]
    public void Without_a_cap_nothing_is_held_back()
    {
        var (relay, client, _) = Allocated(rate: 0);
        for (int i = 0; i < 100; i++)
        {
            Assert.True(client.SendChannelData(0x4000, new byte[65_000]).ShouldRelay);
        }

        Assert.Equal(0, relay.Server.Counters.Drops(DropReason.OverBandwidth));
    }

    [Fact]
    public void Relaying_and_refusing_under_a_cap_allocate_nothing()
    {
        var (relay, client, port) = Allocated(rate: 100_000);
        byte[] channelData = new byte[4 + 1000];
        channelData[0] = 0x40;
        channelData[2] = 1000 >> 8;
        channelData[3] = 1000 & 0xFF;
        byte[] peerBuffer = new byte[RelayServer.PeerHeadroom + 1000 + RelayServer.PeerTailroom];

        void Relay(int packets)
        {
            for (int i = 0; i < packets; i++)
            {
                relay.Now += TimeSpan.FromMilliseconds(i % 3); // some within the budget, most beyond it
                relay.Server.HandleClientInput(channelData, client.Socket, relay.Now);
                relay.Server.HandlePeerInput(peerBuffer, RelayServer.PeerHeadroom, 1000, Peer, port, relay.Now);
            }
        }

        Relay(20_000); // warm up (tiered compilation)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Relay(20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(relay.Server.Counters.Drops(DropReason.OverBandwidth) > 0);
        Assert.True(relay.Server.Counters.Packets(RelayDirection.ClientToPeer, IpFamily.V4, IpFamily.V4) > 1000);
    }

    [Fact]
    public void A_slow_cap_still_lets_a_largest_datagram_through_once_refilled()
    {
        var budget = ByteBudget.Full(1000, TestRelay.Start);
        Assert.True(budget.TryTake(65_536, 1000, TestRelay.Start)); // the bucket is at least 64 KiB
        Assert.False(budget.TryTake(1000, 1000, TestRelay.Start + TimeSpan.FromMilliseconds(999)));
        Assert.True(budget.TryTake(1000, 1000, TestRelay.Start + TimeSpan.FromMilliseconds(1500)));
    }

    [Fact]
    public void A_long_quiet_period_refills_to_the_burst_and_no_further()
    {
        var budget = ByteBudget.Full(Rate, TestRelay.Start);
        Assert.True(budget.TryTake((int)Rate, Rate, TestRelay.Start));
        Instant later = TestRelay.Start + TimeSpan.FromDays(400); // elapsed × rate would overflow if it were multiplied
        Assert.True(budget.TryTake((int)Rate, Rate, later));
        Assert.False(budget.TryTake(1, Rate, later));
    }
}
