using System.Net;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.TestSupport;
using Relay.Xdp.Maps;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>
/// relay_xdp under BPF_PROG_TEST_RUN: crafted frames in, exact frames out. Every expected frame is built by the
/// tests' own encoder with checksums computed from scratch, so equal bytes mean the program's incremental
/// checksums are right; every output is also parsed and its checksums verified on their own.
/// </summary>
public sealed class ProgramTests : IClassFixture<ProgramFixture>
{
    private const uint XdpDrop = 1, XdpPass = 2, XdpTx = 3;
    private const ushort Channel = 0x4001;
    private static int _nextPort = 50000;

    private readonly ProgramFixture _relay;

    /// <summary>Allocation ports of this test (xunit makes an instance per test): counters never mix between tests.</summary>
    private readonly ushort _port = (ushort)Interlocked.Add(ref _nextPort, 2);

    public ProgramTests(ProgramFixture relay) => _relay = relay;

    public static TheoryData<IpFamily, IpFamily> Routes => new()
    {
        { IpFamily.V4, IpFamily.V4 },
        { IpFamily.V4, IpFamily.V6 },
        { IpFamily.V6, IpFamily.V4 },
        { IpFamily.V6, IpFamily.V6 },
    };

    private static int _nextClientPort = 40000;

    /// <summary>A client address unique to the calling test, so tests sharing the loaded program never collide.</summary>
    private static IPEndPoint NewClient(IpFamily family) =>
        new(IPAddress.Parse(family == IpFamily.V4 ? "198.51.100.10" : "2001:db8:c::10"), Interlocked.Increment(ref _nextClientPort));

    private static IPEndPoint Peer(IpFamily family, int port = 5000) => new(IPAddress.Parse(family == IpFamily.V4 ? "198.51.100.20" : "2001:db8:d::20"), port);

    /// <summary>The source XDP must use: the arrival address within a family, the interface address across.</summary>
    private static IPAddress Source(IpFamily from, IpFamily to) => from == to ? ProgramFixture.Public(to) : ProgramFixture.Interface(to);

    [RequiresTheory("clang", Root = true)]
    [MemberData(nameof(Routes))]
    public void Channel_data_from_a_client_leaves_as_udp_to_its_peer(IpFamily clientFamily, IpFamily peerFamily)
    {
        IPEndPoint client = NewClient(clientFamily), peer = Peer(peerFamily);
        _relay.Bind(client, Channel, peer, _port);
        byte[] data = Frame.Payload(101, seed: 7);
        var input = new FrameSpec
        {
            Source = client,
            Destination = new IPEndPoint(ProgramFixture.Public(clientFamily), ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(Channel, data),
            Tos = 0xB8,
            FlowLabel = 0x12345,
        };
        XdpCounters before = _relay.Stats();

        var (action, output) = _relay.Run(Frame.Build(input));

        Assert.Equal(XdpTx, action);
        var expected = new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(Source(clientFamily, peerFamily), _port),
            Destination = peer,
            Payload = data,
            Ttl = 63,
            Tos = 0xB8,
            Id = clientFamily == IpFamily.V4 ? input.Id : (ushort)0,
            FlowLabel = clientFamily == IpFamily.V6 ? input.FlowLabel : 0,
        };
        AssertFrame(expected, output);
        XdpCounters after = _relay.Stats();
        int route = XdpEncoding.RouteIndex(clientFamily, peerFamily);
        Assert.Equal(1UL, Delta(after.RelayedPackets[route], before.RelayedPackets[route]));
        Assert.Equal((ulong)data.Length, Delta(after.RelayedBytes[route], before.RelayedBytes[route]));
        Assert.Equal(new TrafficCount(1, data.Length), Carried(Channel, _port).FromClient);
        _relay.Unbind(client, Channel, peer, _port);
    }

    [RequiresTheory("clang", Root = true)]
    [MemberData(nameof(Routes))]
    public void Udp_from_a_peer_reaches_its_client_as_channel_data(IpFamily clientFamily, IpFamily peerFamily)
    {
        IPEndPoint client = NewClient(clientFamily), peer = Peer(peerFamily, 5100 + _nextClientPort % 100);
        _relay.Bind(client, Channel, peer, _port);
        byte[] data = Frame.Payload(200, seed: 8);
        var input = new FrameSpec
        {
            Source = peer,
            Destination = new IPEndPoint(ProgramFixture.Public(peerFamily), _port),
            Payload = data,
            Tos = 0x02,
            FlowLabel = 0xABCDE,
            DontFragment = false,
        };
        XdpCounters before = _relay.Stats();

        var (action, output) = _relay.Run(Frame.Build(input));

        Assert.Equal(XdpTx, action);
        var expected = new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(Source(peerFamily, clientFamily), ProgramFixture.ListenPort),
            Destination = client,
            Payload = Frame.ChannelData(Channel, data),
            Ttl = 63,
            Tos = 0x02,
            Id = peerFamily == IpFamily.V4 ? input.Id : (ushort)0,
            DontFragment = peerFamily == IpFamily.V6, // kept from IPv4; set when translating from IPv6
            FlowLabel = peerFamily == IpFamily.V6 ? input.FlowLabel : 0,
        };
        AssertFrame(expected, output);
        XdpCounters after = _relay.Stats();
        int index = XdpConstants.Routes + XdpEncoding.RouteIndex(clientFamily, peerFamily);
        Assert.Equal(1UL, Delta(after.RelayedPackets[index], before.RelayedPackets[index]));
        Assert.Equal((ulong)data.Length, Delta(after.RelayedBytes[index], before.RelayedBytes[index]));
        Assert.Equal(new TrafficCount(1, data.Length), Carried(Channel, _port).ToClient);
        _relay.Unbind(client, Channel, peer, _port);
    }

    /// <summary>
    /// Two allocations of this relay talking to each other (a browser's relay/relay candidate pair): client A's
    /// ChannelData to B's relayed address is delivered to client B as ChannelData on B's channel.
    /// </summary>
    [RequiresTheory("clang", Root = true)]
    [MemberData(nameof(Routes))]
    public void Relay_to_relay_traffic_hairpins_to_the_other_client(IpFamily senderFamily, IpFamily receiverFamily)
    {
        ushort portA = _port, portB = (ushort)(_port + 1);
        const ushort channelA = 0x4001, channelB = 0x4002;
        IPEndPoint clientA = NewClient(senderFamily), clientB = NewClient(receiverFamily);
        IPAddress relayed = ProgramFixture.Public(senderFamily); // A's allocation relays the sender's family
        _relay.Bind(clientA, channelA, new IPEndPoint(relayed, portB), portA);
        _relay.Bind(clientB, channelB, new IPEndPoint(relayed, portA), portB);
        byte[] data = Frame.Payload(64, seed: 9);
        XdpCounters before = _relay.Stats();

        var (action, output) = _relay.Run(Frame.Build(new FrameSpec
        {
            Source = clientA,
            Destination = new IPEndPoint(ProgramFixture.Public(senderFamily), ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(channelA, data),
        }));

        Assert.Equal(XdpTx, action);
        AssertFrame(new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(Source(senderFamily, receiverFamily), ProgramFixture.ListenPort),
            Destination = clientB,
            Payload = Frame.ChannelData(channelB, data),
            Ttl = 63,
            Id = senderFamily == IpFamily.V4 ? (ushort)0x1234 : (ushort)0,
        }, output);
        XdpCounters after = _relay.Stats();
        int hairpin = XdpEncoding.RouteIndex(senderFamily, receiverFamily);
        Assert.Equal(1UL, Delta(after.HairpinPackets[hairpin], before.HairpinPackets[hairpin]));
        Assert.Equal(new TrafficCount(1, data.Length), Carried(channelA, portA).FromClient);
        Assert.Equal(new TrafficCount(1, data.Length), Carried(channelB, portB).ToClient);
        _relay.Unbind(clientA, channelA, new IPEndPoint(relayed, portB), portA);
        _relay.Unbind(clientB, channelB, new IPEndPoint(relayed, portA), portB);
    }

    [RequiresTheory("clang", Root = true)]
    [InlineData(IpFamily.V4, 100, 0)]
    [InlineData(IpFamily.V4, 101, 3)]
    [InlineData(IpFamily.V4, 102, 2)]
    [InlineData(IpFamily.V6, 103, 1)]
    [InlineData(IpFamily.V6, 1, 3)]
    public void Padded_channel_data_is_relayed_without_its_padding(IpFamily family, int length, int padding)
    {
        IPEndPoint client = NewClient(family), peer = Peer(family);
        _relay.Bind(client, Channel, peer, _port);
        byte[] data = Frame.Payload(length, seed: length);

        // RFC 8656 says padding is zero but must be ignored: non-zero bytes check that the checksum drops them too.
        var (action, output) = _relay.Run(Frame.Build(new FrameSpec
        {
            Source = client,
            Destination = new IPEndPoint(ProgramFixture.Public(family), ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(Channel, data, padding, padByte: 0xA7),
        }));

        Assert.Equal(XdpTx, action);
        AssertFrame(new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(ProgramFixture.Public(family), _port),
            Destination = peer,
            Payload = data,
            Ttl = 63,
            Id = family == IpFamily.V4 ? (ushort)0x1234 : (ushort)0,
        }, output);
        _relay.Unbind(client, Channel, peer, _port);
    }

    [RequiresFact("clang", Root = true)]
    public void Ethernet_padding_of_a_short_frame_is_trimmed()
    {
        IPEndPoint client = NewClient(IpFamily.V4), peer = Peer(IpFamily.V4);
        _relay.Bind(client, Channel, peer, _port);

        var (action, output) = _relay.Run(Frame.Build(new FrameSpec
        {
            Source = client,
            Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(Channel, [1, 2, 3]),
            TrailingBytes = 15, // a 45-byte frame padded to the Ethernet minimum of 60
        }));

        Assert.Equal(XdpTx, action);
        AssertFrame(new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(ProgramFixture.PublicV4, _port),
            Destination = peer,
            Payload = [1, 2, 3],
            Ttl = 63,
        }, output);
        _relay.Unbind(client, Channel, peer, _port);
    }

    [RequiresFact("clang", Root = true)]
    public void Ipv4_without_udp_checksum_stays_without_one_within_ipv4()
    {
        IPEndPoint client = NewClient(IpFamily.V4), peer = Peer(IpFamily.V4);
        _relay.Bind(client, Channel, peer, _port);
        byte[] data = Frame.Payload(50);

        var (action, output) = _relay.Run(Frame.Build(new FrameSpec
        {
            Source = client,
            Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(Channel, data),
            ZeroChecksum = true,
        }));

        Assert.Equal(XdpTx, action);
        AssertFrame(new FrameSpec
        {
            SourceMac = FrameSpec.MacB,
            DestinationMac = FrameSpec.MacA,
            Source = new IPEndPoint(ProgramFixture.PublicV4, _port),
            Destination = peer,
            Payload = data,
            Ttl = 63,
            ZeroChecksum = true,
        }, output);
        _relay.Unbind(client, Channel, peer, _port);
    }

    [RequiresFact("clang", Root = true)]
    public void Ipv4_without_udp_checksum_going_to_ipv6_is_passed_untouched()
    {
        IPEndPoint client = NewClient(IpFamily.V4), peer = Peer(IpFamily.V6);
        _relay.Bind(client, Channel, peer, _port);

        AssertPassed(XdpPassReason.ZeroChecksum, new FrameSpec
        {
            Source = client,
            Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(Channel, Frame.Payload(50)),
            ZeroChecksum = true,
        });
        _relay.Unbind(client, Channel, peer, _port);
    }

    public static TheoryData<string> Untouchable => new()
    {
        "ipv4 options", "ipv4 more fragments", "ipv4 fragment offset", "ipv6 fragment header", "ipv6 destination options",
        "vlan tag", "ttl 1", "hop limit 1", "mtu exceeded", "unknown channel", "stun on listen port", "not addressed to the relay",
        "peer without binding", "port live for the other family", "port not live", "dns reply below the range", "channel data longer than datagram", "more than padding",
    };

    /// <summary>Each case gets its own reason; the frame must come back byte for byte as it went in.</summary>
    [RequiresTheory("clang", Root = true)]
    [MemberData(nameof(Untouchable))]
    public void Frames_xdp_must_not_relay_are_passed_untouched(string name)
    {
        IPEndPoint client4 = NewClient(IpFamily.V4), client6 = NewClient(IpFamily.V6), peer4 = Peer(IpFamily.V4), peer6 = Peer(IpFamily.V6, 5999);
        _relay.Bind(client4, Channel, peer6, _port);
        _relay.Bind(client6, Channel, peer6, (ushort)(_port + 1));
        var toListen4 = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort);
        var toListen6 = new IPEndPoint(ProgramFixture.PublicV6, ProgramFixture.ListenPort);
        byte[] channelData = Frame.ChannelData(Channel, Frame.Payload(80));
        var base4 = new FrameSpec { Source = client4, Destination = toListen4, Payload = channelData };
        var base6 = new FrameSpec { Source = client6, Destination = toListen6, Payload = channelData };
        byte[] stun = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

        (XdpPassReason reason, FrameSpec frame) = name switch
        {
            "ipv4 options" => (XdpPassReason.IpOptions, base4 with { Ipv4Options = [1, 1, 1, 0] }),
            "ipv4 more fragments" => (XdpPassReason.Fragment, base4 with { MoreFragments = true, DontFragment = false }),
            "ipv4 fragment offset" => (XdpPassReason.Fragment, base4 with { FragmentOffset = 100, DontFragment = false }),
            "ipv6 fragment header" => (XdpPassReason.Fragment, base6 with { Ipv6Extension = 44 }),
            "ipv6 destination options" => (XdpPassReason.Ipv6Extension, base6 with { Ipv6Extension = 60 }),
            "vlan tag" => (XdpPassReason.Vlan, base4 with { VlanId = 7 }),
            "ttl 1" => (XdpPassReason.Ttl, base4 with { Ttl = 1 }),
            "hop limit 1" => (XdpPassReason.Ttl, base6 with { Ttl = 1 }),
            // 1492 bytes of IPv4 become 1512 of IPv6: over the 1500-byte MTU.
            "mtu exceeded" => (XdpPassReason.Mtu, base4 with { Payload = Frame.ChannelData(Channel, Frame.Payload(1460)) }),
            "unknown channel" => (XdpPassReason.NoBinding, base4 with { Payload = Frame.ChannelData(0x4FFE, Frame.Payload(10)) }),
            "stun on listen port" => (XdpPassReason.NotChannelData, base4 with { Payload = stun }),
            "not addressed to the relay" => (XdpPassReason.NotLocal, base4 with { Destination = new IPEndPoint(IPAddress.Parse("192.0.2.99"), 3478) }),
            "peer without binding" => (XdpPassReason.NoBinding, new FrameSpec { Source = Peer(IpFamily.V6, 6000), Destination = new IPEndPoint(ProgramFixture.PublicV6, _port), Payload = [1, 2, 3] }),
            "port live for the other family" => (XdpPassReason.NotRelayPort, new FrameSpec { Source = peer4, Destination = new IPEndPoint(ProgramFixture.PublicV4, _port), Payload = [1, 2, 3] }),
            "port not live" => (XdpPassReason.NotRelayPort, new FrameSpec { Source = peer6, Destination = new IPEndPoint(ProgramFixture.PublicV6, 60000), Payload = [1, 2, 3] }),
            "dns reply below the range" => (XdpPassReason.NotRelayPort, new FrameSpec { Source = new IPEndPoint(IPAddress.Parse("192.0.2.53"), 53), Destination = new IPEndPoint(ProgramFixture.PublicV4, 33000), Payload = [1, 2, 3] }),
            "channel data longer than datagram" => (XdpPassReason.ChannelLength, base4 with { Payload = [0x40, 0x01, 0x00, 0x20, 1, 2, 3, 4] }),
            "more than padding" => (XdpPassReason.ChannelLength, base4 with { Payload = Frame.ChannelData(Channel, Frame.Payload(8), padding: 4) }),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };

        AssertPassed(reason, frame);
        _relay.Unbind(client4, Channel, peer6, _port);
        _relay.Unbind(client6, Channel, peer6, (ushort)(_port + 1));
    }

    [RequiresFact("clang", Root = true)]
    public void Unbinding_removes_both_map_entries_and_the_frame_passes_again()
    {
        IPEndPoint client = NewClient(IpFamily.V4), peer = Peer(IpFamily.V4, 5300);
        _relay.Bind(client, Channel, peer, _port);
        var frame = new FrameSpec { Source = client, Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort), Payload = Frame.ChannelData(Channel, [9]) };
        Assert.Equal(XdpTx, _relay.Run(Frame.Build(frame)).Action);

        _relay.Unbind(client, Channel, peer, _port);

        Assert.DoesNotContain(_relay.Program.ClientChannels.Keys(), k => k.ClientPort == XdpEncoding.NetworkOrder((ushort)client.Port));
        Assert.DoesNotContain(_relay.Program.PeerBindings.Keys(), k => k.PeerPort == XdpEncoding.NetworkOrder(5300));
        AssertPassed(XdpPassReason.NoBinding, frame);
        // What the channel carried stays counted for its allocation after the entries are gone.
        Assert.Equal(new TrafficCount(1, 1), Carried(Channel, _port).FromClient);
    }

    private void AssertPassed(XdpPassReason reason, FrameSpec spec)
    {
        byte[] frame = Frame.Build(spec);
        XdpCounters before = _relay.Stats();

        var (action, output) = _relay.Run(frame);

        Assert.Equal(XdpPass, action);
        Assert.Equal(frame, output);
        XdpCounters after = _relay.Stats();
        Assert.Equal(1UL, Delta(after.Passed[(int)reason], before.Passed[(int)reason]));
        Assert.Equal(0UL, Delta(after.Dropped[0], before.Dropped[0]) + Delta(after.Dropped[1], before.Dropped[1]));
    }

    private static void AssertFrame(FrameSpec expected, byte[] output)
    {
        ParsedFrame parsed = Frame.Parse(output);
        Assert.True(parsed.IpChecksumValid, "IPv4 header checksum");
        Assert.True(parsed.UdpChecksumValid, $"UDP checksum 0x{parsed.UdpChecksum:X4}");
        Assert.Equal(Convert.ToHexString(Frame.Build(expected)), Convert.ToHexString(output));
    }

    private ChannelTraffic Carried(ushort channel, ushort port) => _relay.FastPath.ReadChannel(new AllocationPort(port), new ChannelNumber(channel));

    private static ulong Delta(ulong after, ulong before) => after - before;
}
