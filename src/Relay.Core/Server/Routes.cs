using Relay.Core.Net;

namespace Relay.Core.Server;

/// <summary>
/// The hot-path answer to a client datagram: when <see cref="ShouldRelay"/>, send
/// <c>datagram[PayloadOffset..PayloadOffset+PayloadLength]</c> from the allocation's socket of the peer's family on
/// <see cref="Port"/> to <see cref="Peer"/>. No bytes are copied by the engine.
/// </summary>
public readonly struct ClientRoute
{
    public ClientRoute(AllocationPort port, PeerSocket peer, int payloadOffset, int payloadLength)
    {
        Port = port;
        Peer = peer;
        PayloadOffset = payloadOffset;
        PayloadLength = payloadLength;
        ShouldRelay = true;
    }

    public static ClientRoute None => default;

    public bool ShouldRelay { get; }

    public AllocationPort Port { get; }

    public PeerSocket Peer { get; }

    public int PayloadOffset { get; }

    public int PayloadLength { get; }
}

/// <summary>
/// The hot-path answer to a peer datagram: when <see cref="ShouldSend"/>, the engine has written a ChannelData header
/// or a Data indication around the payload in place; send <c>buffer[Offset..Offset+Length]</c> to
/// <see cref="Client"/> from the listening socket of the client's family.
/// </summary>
public readonly struct PeerRoute
{
    public PeerRoute(ClientSocket client, int offset, int length)
    {
        Client = client;
        Offset = offset;
        Length = length;
        ShouldSend = true;
    }

    public static PeerRoute None => default;

    public bool ShouldSend { get; }

    public ClientSocket Client { get; }

    public int Offset { get; }

    public int Length { get; }
}
