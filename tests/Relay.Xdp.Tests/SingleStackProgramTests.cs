using System.Net;
using Relay.TestSupport;
using Relay.Xdp.Maps;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>
/// An IPv4-only relay relays in XDP too (the reference dropped every client packet when one of its two public
/// addresses was unset); IPv6 frames, which cannot be addressed to it, pass.
/// </summary>
public sealed class SingleStackProgramTests(SingleStackProgramFixture relay) : IClassFixture<SingleStackProgramFixture>
{
    private const uint XdpPass = 2, XdpTx = 3;
    private static readonly IPEndPoint Client = new(IPAddress.Parse("198.51.100.10"), 41000);
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("198.51.100.20"), 5000);

    [RequiresFact("clang", Root = true)]
    public void Both_directions_are_relayed()
    {
        relay.Bind(Client, 0x4001, Peer, 50000);
        byte[] data = Frame.Payload(60);

        var (up, toPeer) = relay.Run(Frame.Build(new FrameSpec
        {
            Source = Client, Destination = new IPEndPoint(ProgramFixture.PublicV4, ProgramFixture.ListenPort), Payload = Frame.ChannelData(0x4001, data),
        }));
        var (down, toClient) = relay.Run(Frame.Build(new FrameSpec
        {
            Source = Peer, Destination = new IPEndPoint(ProgramFixture.PublicV4, 50000), Payload = data,
        }));

        Assert.Equal(XdpTx, up);
        Assert.Equal(data, Frame.Parse(toPeer).Payload);
        Assert.Equal(XdpTx, down);
        Assert.Equal(Frame.ChannelData(0x4001, data), Frame.Parse(toClient).Payload);
        relay.Unbind(Client, 0x4001, Peer, 50000);
    }

    [RequiresFact("clang", Root = true)]
    public void Ipv6_frames_are_not_for_it()
    {
        byte[] frame = Frame.Build(new FrameSpec
        {
            Source = new IPEndPoint(IPAddress.Parse("2001:db8:c::10"), 41000),
            Destination = new IPEndPoint(ProgramFixture.PublicV6, ProgramFixture.ListenPort),
            Payload = Frame.ChannelData(0x4001, [1, 2, 3]),
        });
        ulong before = relay.Stats().Passed[(int)XdpPassReason.NotLocal];

        var (action, output) = relay.Run(frame);

        Assert.Equal(XdpPass, action);
        Assert.Equal(frame, output);
        Assert.Equal(before + 1, relay.Stats().Passed[(int)XdpPassReason.NotLocal]);
    }
}
