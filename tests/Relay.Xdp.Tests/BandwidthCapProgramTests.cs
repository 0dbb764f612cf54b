using System.Net;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.TestSupport;
using Relay.Xdp.Maps;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>
/// --max-bps in the kernel: each allocation port has a token bucket per direction in port_budgets; a relayed
/// packet beyond it is dropped (never passed to userspace, which would relay it) and counted for the allocation.
/// </summary>
public sealed class BandwidthCapProgramTests(CappedProgramFixture relay) : IClassFixture<CappedProgramFixture>
{
    private const uint XdpDrop = 1, XdpTx = 3;
    private const ushort Channel = 0x4001;
    private const int PayloadLength = 1000;
    private const int PacketsInBurst = 65; // 65,536-byte bucket / 1000-byte payloads

    private static readonly IPEndPoint Client = new(IPAddress.Parse("198.51.100.30"), 42000);
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("198.51.100.40"), 5000);
    private static readonly IPEndPoint OtherClient = new(IPAddress.Parse("198.51.100.31"), 42001);
    private static readonly IPEndPoint OtherPeer = new(IPAddress.Parse("198.51.100.41"), 5001);

    private static byte[] FromClient(IPEndPoint client) => Frame.Build(new FrameSpec
    {
        Source = client,
        Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort),
        Payload = Frame.ChannelData(Channel, Frame.Payload(PayloadLength)),
    });

    private static byte[] FromPeer(IPEndPoint peer, ushort port) => Frame.Build(new FrameSpec
    {
        Source = peer,
        Destination = new IPEndPoint(ProgramFixture.PublicV4, port),
        Payload = Frame.Payload(PayloadLength),
    });

    [RequiresFact("clang", Root = true)]
    public void Packets_beyond_the_budget_are_dropped_and_counted_for_their_allocation()
    {
        const ushort port = 51000;
        relay.Bind(Client, Channel, Peer, port);
        XdpCounters before = relay.Stats();

        for (int i = 0; i < PacketsInBurst; i++)
        {
            Assert.True(XdpTx == relay.Run(FromClient(Client)).Action, $"packet {i} is within the burst");
        }

        Assert.Equal(XdpDrop, relay.Run(FromClient(Client)).Action);
        Assert.Equal(1L, relay.FastPath.ReadOverBandwidth(new AllocationPort(port)));
        XdpCounters after = relay.Stats();
        Assert.Equal(1UL, after.Dropped[(int)XdpDropReason.OverBandwidth] - before.Dropped[(int)XdpDropReason.OverBandwidth]);
        Assert.Equal((ulong)PacketsInBurst, after.RelayedPackets[0] - before.RelayedPackets[0]); // the dropped one is not relayed

        // The other direction has a bucket of its own.
        Assert.Equal(XdpTx, relay.Run(FromPeer(Peer, port)).Action);
    }

    [RequiresFact("clang", Root = true)]
    public void Another_allocation_on_the_port_starts_with_a_full_budget()
    {
        const ushort port = 51002;
        relay.Bind(OtherClient, Channel, OtherPeer, port);
        int relayed = 0;
        while (relayed <= PacketsInBurst && relay.Run(FromPeer(OtherPeer, port)).Action == XdpTx)
        {
            relayed++;
        }

        Assert.Equal(PacketsInBurst, relayed);
        Assert.Equal(1L, relay.FastPath.ReadOverBandwidth(new AllocationPort(port)));
        relay.Unbind(OtherClient, Channel, OtherPeer, port);
        relay.FastPath.AllocationFreed(new AllocationPort(port), IpFamily.V4);

        relay.Bind(OtherClient, Channel, OtherPeer, port);

        Assert.Equal(0L, relay.FastPath.ReadOverBandwidth(new AllocationPort(port)));
        Assert.Equal(XdpTx, relay.Run(FromPeer(OtherPeer, port)).Action);
    }
}
