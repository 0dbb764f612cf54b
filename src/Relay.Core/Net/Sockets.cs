namespace Relay.Core.Net;

// The engine's vocabulary, as in Firezone's relay-proto: distinct types so a client address can never be passed
// where a peer address is expected.

/// <summary>The source address of a client's datagrams on the listening port (one end of the client 5-tuple).</summary>
public readonly record struct ClientSocket(TransportAddress Address)
{
    public IpFamily Family => Address.Family;

    public static ClientSocket Parse(string text) => new(TransportAddress.Parse(text));

    public override string ToString() => Address.ToString();
}

/// <summary>A peer's address as seen on (or sent to from) an allocation's relayed port.</summary>
public readonly record struct PeerSocket(TransportAddress Address)
{
    public IpFamily Family => Address.Family;

    public static PeerSocket Parse(string text) => new(TransportAddress.Parse(text));

    public override string ToString() => Address.ToString();
}

/// <summary>The UDP port of an allocation's relayed transport address (the same number on both families).</summary>
public readonly record struct AllocationPort(ushort Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A TURN channel number (RFC 8656 §12: 0x4000–0x4FFF; RFC 5766 clients use up to 0x7FFF).</summary>
public readonly record struct ChannelNumber(ushort Value)
{
    public override string ToString() => "0x" + Value.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A process-unique allocation identifier (never reused), used by the admin API.</summary>
public readonly record struct AllocationId(long Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
