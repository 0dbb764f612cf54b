using System.Net;

namespace Relay.Core.Net;

/// <summary>An IP address and a UDP port: one end of a 5-tuple.</summary>
public readonly struct TransportAddress : IEquatable<TransportAddress>
{
    public TransportAddress(IpAddr address, ushort port)
    {
        Address = address;
        Port = port;
    }

    public IpAddr Address { get; }

    public ushort Port { get; }

    public IpFamily Family => Address.Family;

    public static TransportAddress FromIPEndPoint(IPEndPoint endPoint) =>
        new(IpAddr.FromIPAddress(endPoint.Address), checked((ushort)endPoint.Port));

    public static TransportAddress Parse(string text) => FromIPEndPoint(IPEndPoint.Parse(text));

    public IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);

    public bool Equals(TransportAddress other) => Port == other.Port && Address.Equals(other.Address);

    public override bool Equals(object? obj) => obj is TransportAddress other && Equals(other);

    public override int GetHashCode() => Address.GetHashCode() ^ (Port * 0x2545_F491);

    public static bool operator ==(TransportAddress left, TransportAddress right) => left.Equals(right);

    public static bool operator !=(TransportAddress left, TransportAddress right) => !left.Equals(right);

    /// <summary><c>1.2.3.4:5</c> or <c>[2001:db8::1]:5</c>.</summary>
    public override string ToString() => Address.IsV4 ? $"{Address}:{Port}" : $"[{Address}]:{Port}";
}
