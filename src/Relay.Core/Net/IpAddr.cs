using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Relay.Core.Net;

/// <summary>Address family. The numeric values are the ones STUN puts on the wire (RFC 8489 §14.1).</summary>
public enum IpFamily : byte
{
    V4 = 1,
    V6 = 2,
}

/// <summary>
/// An IPv4 or IPv6 address as a plain value (no heap object), so that hot-path dictionary keys never allocate.
/// IPv4 addresses are stored in their IPv4-mapped form; <see cref="Family"/> tells the two apart, so
/// <c>1.2.3.4</c> and <c>::ffff:1.2.3.4</c> are different values (a V6ONLY socket never reports the latter for
/// an IPv4 sender). Use <see cref="PeerPolicy"/>'s canonicalisation when the distinction must not matter.
/// </summary>
public readonly struct IpAddr : IEquatable<IpAddr>
{
    private const ulong V4MappedPrefix = 0x0000_FFFF_0000_0000UL;

    private readonly ulong _hi;
    private readonly ulong _lo;

    public IpFamily Family { get; }

    private IpAddr(ulong hi, ulong lo, IpFamily family)
    {
        _hi = hi;
        _lo = lo;
        Family = family;
    }

    public static IpAddr FromV4(uint address) => new(0, V4MappedPrefix | address, IpFamily.V4);

    public static IpAddr FromV6(ulong hi, ulong lo) => new(hi, lo, IpFamily.V6);

    public static IpAddr V4Any => FromV4(0);

    public static IpAddr V6Any => FromV6(0, 0);

    public static IpAddr V4Loopback => FromV4(0x7F00_0001);

    public static IpAddr V6Loopback => FromV6(0, 1);

    /// <summary>Reads 4 (IPv4) or 16 (IPv6) bytes in network order.</summary>
    public static IpAddr FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)),
        16 => FromV6(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..])),
        _ => throw new ArgumentException("An IP address is 4 or 16 bytes long.", nameof(bytes)),
    };

    public static IpAddr FromIPAddress(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        return FromBytes(bytes[..written]);
    }

    public static IpAddr Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static bool TryParse(string? text, out IpAddr address)
    {
        if (IPAddress.TryParse(text, out var ip) && (ip.AddressFamily == AddressFamily.InterNetwork || ip.ScopeId == 0))
        {
            address = FromIPAddress(ip);
            return true;
        }

        address = default;
        return false;
    }

    public bool IsV4 => Family == IpFamily.V4;

    /// <summary>Number of bytes <see cref="WriteTo"/> writes: 4 or 16.</summary>
    public int ByteLength => IsV4 ? 4 : 16;

    /// <summary>The IPv4 address as a host-order integer (only meaningful when <see cref="IsV4"/>).</summary>
    public uint V4Value => (uint)_lo;

    /// <summary>High and low 64 bits of the 16-byte form (IPv4 in its mapped form).</summary>
    public ulong High => _hi;

    public ulong Low => _lo;

    public void WriteTo(Span<byte> destination)
    {
        if (IsV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, V4Value);
            return;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _lo);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteTo(bytes);
        return new IPAddress(bytes[..ByteLength]);
    }

    public AddressFamily ToAddressFamily() => IsV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    public bool Equals(IpAddr other) => _hi == other._hi && _lo == other._lo && Family == other.Family;

    public override bool Equals(object? obj) => obj is IpAddr other && Equals(other);

    public override int GetHashCode()
    {
        // Cheap mixing: hot-path dictionaries hash this for every relayed packet.
        ulong h = (_hi * 0x9E37_79B9_7F4A_7C15UL) ^ _lo ^ ((ulong)Family << 60);
        h ^= h >> 29;
        h *= 0xBF58_476D_1CE4_E5B9UL;
        return (int)(h ^ (h >> 32));
    }

    public static bool operator ==(IpAddr left, IpAddr right) => left.Equals(right);

    public static bool operator !=(IpAddr left, IpAddr right) => !left.Equals(right);

    public override string ToString() => ToIPAddress().ToString();
}
