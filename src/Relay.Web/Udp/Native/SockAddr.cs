using System.Buffers.Binary;
using System.Net;
using Relay.Core.Net;

namespace Relay.Web.Udp.Native;

/// <summary>Linux sockaddr_in / sockaddr_in6 ⇄ <see cref="TransportAddress"/>, without allocating.</summary>
internal static unsafe class SockAddr
{
    public const int StorageSize = 128;
    public const int V4Size = 16;
    public const int V6Size = 28;

    /// <summary>Writes the sockaddr for <paramref name="address"/> and returns its length.</summary>
    public static uint Write(TransportAddress address, byte* destination)
    {
        var span = new Span<byte>(destination, V6Size);
        if (address.Address.IsV4)
        {
            span[..V4Size].Clear();
            *(ushort*)destination = LibC.AF_INET;
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], address.Port);
            BinaryPrimitives.WriteUInt32BigEndian(span[4..], address.Address.V4Value);
            return V4Size;
        }

        span.Clear();
        *(ushort*)destination = LibC.AF_INET6;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], address.Port);
        address.Address.WriteTo(span[8..]);
        return V6Size;
    }

    public static uint Write(IPAddress ip, ushort port, byte* destination) =>
        Write(new TransportAddress(IpAddr.FromIPAddress(ip), port), destination);

    public static bool TryRead(byte* source, uint length, out TransportAddress address)
    {
        var span = new ReadOnlySpan<byte>(source, (int)Math.Min(length, (uint)StorageSize));
        ushort family = length >= 2 ? *(ushort*)source : (ushort)0;
        if (family == LibC.AF_INET && span.Length >= V4Size)
        {
            address = new TransportAddress(IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(span[4..])), BinaryPrimitives.ReadUInt16BigEndian(span[2..]));
            return true;
        }

        if (family == LibC.AF_INET6 && span.Length >= V6Size)
        {
            address = new TransportAddress(IpAddr.FromBytes(span.Slice(8, 16)), BinaryPrimitives.ReadUInt16BigEndian(span[2..]));
            return true;
        }

        address = default;
        return false;
    }
}
