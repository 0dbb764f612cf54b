using System.Buffers.Binary;
using Relay.Core.Net;

namespace Relay.Core.Stun;

/// <summary>
/// XOR-MAPPED-ADDRESS / XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS values (RFC 8489 §14.2): the port is XORed with the
/// cookie's high 16 bits, an IPv4 address with the cookie, an IPv6 address with cookie ‖ transaction id.
/// </summary>
public static class XorAddress
{
    /// <summary>Decodes a value; <paramref name="header"/> is the message's first 20 bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, ReadOnlySpan<byte> header, out TransportAddress address)
    {
        address = default;
        if (value.Length < 4)
        {
            return false;
        }

        ushort port = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(value[2..]) ^ (StunConstants.MagicCookie >> 16));
        switch ((IpFamily)value[1])
        {
            case IpFamily.V4 when value.Length == 8:
                uint v4 = BinaryPrimitives.ReadUInt32BigEndian(value[4..]) ^ StunConstants.MagicCookie;
                address = new TransportAddress(IpAddr.FromV4(v4), port);
                return true;
            case IpFamily.V6 when value.Length == 20:
                Span<byte> bytes = stackalloc byte[16];
                for (int i = 0; i < 16; i++)
                {
                    bytes[i] = (byte)(value[4 + i] ^ header[4 + i]);
                }

                address = new TransportAddress(IpAddr.FromBytes(bytes), port);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Writes 8 (IPv4) or 20 (IPv6) bytes into <paramref name="destination"/>.</summary>
    public static void Encode(TransportAddress address, ReadOnlySpan<byte> header, Span<byte> destination)
    {
        destination[0] = 0;
        destination[1] = (byte)address.Family;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(address.Port ^ (StunConstants.MagicCookie >> 16)));
        address.Address.WriteTo(destination[4..]);
        int length = address.Address.ByteLength;
        for (int i = 0; i < length; i++)
        {
            destination[4 + i] ^= header[4 + i];
        }
    }

    public static int EncodedLength(IpFamily family) => family == IpFamily.V4 ? 8 : 20;
}
