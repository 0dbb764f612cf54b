using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Xdp.Maps;
using static Relay.Xdp.XdpEncoding;

namespace Relay.Xdp;

/// <summary>One offloaded channel and its two map keys.</summary>
internal sealed unsafe class XdpBinding
{
    public XdpBinding(ClientSocket client, ChannelNumber channel, PeerSocket peer, AllocationPort port)
    {
        Client = client;
        Channel = channel;
        Peer = peer;
        Port = port;
        var clientKey = new ClientChannelKey { ClientPort = NetworkOrder(client.Address.Port), Channel = NetworkOrder(channel.Value) };
        WriteAddress(clientKey.ClientAddr, client.Address.Address);
        ClientKey = clientKey;
        var peerKey = new PeerBindingKey { PeerPort = NetworkOrder(peer.Address.Port), AllocationPort = NetworkOrder(port.Value) };
        WriteAddress(peerKey.PeerAddr, peer.Address.Address);
        PeerKey = peerKey;
    }

    public ClientSocket Client { get; }

    public ChannelNumber Channel { get; }

    public PeerSocket Peer { get; }

    public AllocationPort Port { get; }

    public ClientChannelKey ClientKey { get; }

    public PeerBindingKey PeerKey { get; }

    public bool CrossFamily => Client.Family != Peer.Family;

    public string Route => RelayCounters.RouteName(Client.Family, Peer.Family);
}

/// <summary>How the maps spell addresses, ports and families (network order, 16-byte addresses, IPv4 mapped).</summary>
internal static unsafe class XdpEncoding
{
    internal static int RouteIndex(IpFamily first, IpFamily second) => (first == IpFamily.V4 ? 0 : 2) + (second == IpFamily.V4 ? 0 : 1);

    internal static ushort NetworkOrder(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    internal static byte FamilyCode(IpFamily family) => family == IpFamily.V4 ? XdpConstants.FamilyV4 : XdpConstants.FamilyV6;

    internal static void WriteAddress(byte* destination, IpAddr address)
    {
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(destination, 8), address.High);
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(destination + 8, 8), address.Low);
    }

    /// <summary>Reads a 16-byte key address back: IPv4-mapped means IPv4.</summary>
    internal static IpAddr ReadAddress(byte* source)
    {
        ulong high = BinaryPrimitives.ReadUInt64BigEndian(new ReadOnlySpan<byte>(source, 8));
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(new ReadOnlySpan<byte>(source + 8, 8));
        return high == 0 && (low >> 32) == 0xFFFF ? IpAddr.FromV4((uint)low) : IpAddr.FromV6(high, low);
    }

    /// <summary>An IPv6 socket address holding an IPv4-mapped address (which would alias an IPv4 key).</summary>
    internal static bool IsMappedV6(IpAddr address) => !address.IsV4 && address.High == 0 && (address.Low >> 32) == 0xFFFF;

    /// <summary>"HairpinNoBinding" becomes "hairpin_no_binding".</summary>
    internal static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
