using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Relay.Xdp.Tests.Support;

/// <summary>An Ethernet/IPv4|IPv6/UDP frame to build, or one that was parsed.</summary>
public sealed record FrameSpec
{
    public static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x0a];
    public static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0x0b];

    public byte[] SourceMac { get; init; } = MacA;

    public byte[] DestinationMac { get; init; } = MacB;

    public required IPEndPoint Source { get; init; }

    public required IPEndPoint Destination { get; init; }

    public required byte[] Payload { get; init; }

    public byte Ttl { get; init; } = 64;

    public byte Tos { get; init; }

    public ushort Id { get; init; } = 0x1234;

    public bool DontFragment { get; init; } = true;

    public bool MoreFragments { get; init; }

    public ushort FragmentOffset { get; init; }

    public uint FlowLabel { get; init; }

    /// <summary>Send with UDP checksum 0 ("none", IPv4 only).</summary>
    public bool ZeroChecksum { get; init; }

    /// <summary>IPv4 options (a multiple of 4 bytes).</summary>
    public byte[] Ipv4Options { get; init; } = [];

    /// <summary>An IPv6 extension header (8 bytes) of this type before UDP (44 = fragment, 60 = destination options).</summary>
    public byte? Ipv6Extension { get; init; }

    public ushort? VlanId { get; init; }

    /// <summary>Bytes after the IP packet, as a NIC pads short frames.</summary>
    public int TrailingBytes { get; init; }
}

/// <summary>
/// The tests' own frame encoder and decoder. Checksums are computed from scratch over the whole datagram (RFC 768,
/// RFC 791, RFC 8200 §8.1), independently of the XDP program's incremental updates.
/// </summary>
public static class Frame
{
    public static byte[] Build(FrameSpec spec)
    {
        bool v4 = spec.Source.AddressFamily == AddressFamily.InterNetwork;
        int vlan = spec.VlanId is null ? 0 : 4;
        int ipHeader = v4 ? 20 + spec.Ipv4Options.Length : 40 + (spec.Ipv6Extension is null ? 0 : 8);
        int udpLength = 8 + spec.Payload.Length;
        byte[] frame = new byte[14 + vlan + ipHeader + udpLength + spec.TrailingBytes];
        spec.DestinationMac.CopyTo(frame, 0);
        spec.SourceMac.CopyTo(frame, 6);
        int at = 12;
        if (spec.VlanId is { } id)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at + 2), id);
            at += 4;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), v4 ? (ushort)0x0800 : (ushort)0x86DD);
        int l3 = at + 2;
        Span<byte> ip = frame.AsSpan(l3, ipHeader);
        if (v4)
        {
            ip[0] = (byte)(0x40 | (ipHeader / 4));
            ip[1] = spec.Tos;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipHeader + udpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], spec.Id);
            ushort flags = (ushort)((spec.DontFragment ? 0x4000 : 0) | (spec.MoreFragments ? 0x2000 : 0) | spec.FragmentOffset);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], flags);
            ip[8] = spec.Ttl;
            ip[9] = 17;
            spec.Source.Address.GetAddressBytes().CopyTo(ip[12..]);
            spec.Destination.Address.GetAddressBytes().CopyTo(ip[16..]);
            spec.Ipv4Options.CopyTo(ip[20..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));
        }
        else
        {
            uint first = (6u << 28) | ((uint)spec.Tos << 20) | (spec.FlowLabel & 0xFFFFF);
            BinaryPrimitives.WriteUInt32BigEndian(ip, first);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipHeader - 40 + udpLength));
            ip[6] = spec.Ipv6Extension ?? 17;
            ip[7] = spec.Ttl;
            spec.Source.Address.GetAddressBytes().CopyTo(ip[8..]);
            spec.Destination.Address.GetAddressBytes().CopyTo(ip[24..]);
            if (spec.Ipv6Extension is not null)
            {
                ip[40] = 17; // next header UDP, header length 0 (8 bytes)
            }
        }

        Span<byte> udp = frame.AsSpan(l3 + ipHeader, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)spec.Source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)spec.Destination.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        spec.Payload.CopyTo(udp[8..]);
        if (!spec.ZeroChecksum)
        {
            ushort check = UdpChecksum(spec.Source.Address, spec.Destination.Address, udp);
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], check);
        }

        for (int i = 0; i < spec.TrailingBytes; i++)
        {
            frame[^(i + 1)] = 0xEE;
        }

        return frame;
    }

    /// <summary>Parses a plain (untagged, option-free) frame; checks both checksums from scratch.</summary>
    public static ParsedFrame Parse(byte[] frame)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
        bool v4 = type == 0x0800;
        Assert.True(v4 || type == 0x86DD, $"EtherType 0x{type:X4} is neither IPv4 nor IPv6");
        Span<byte> ip = frame.AsSpan(14);
        IPAddress source, destination;
        int ipLength, udpAt;
        byte ttl, tos;
        ushort id = 0;
        bool df = false, ipChecksumValid = true;
        uint flow = 0;
        if (v4)
        {
            Assert.Equal(0x45, ip[0]);
            ipLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            df = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x4000) != 0;
            ttl = ip[8];
            tos = ip[1];
            Assert.Equal(17, ip[9]);
            source = new IPAddress(ip.Slice(12, 4));
            destination = new IPAddress(ip.Slice(16, 4));
            ipChecksumValid = Checksum(ip[..20], 0) == 0;
            udpAt = 20;
        }
        else
        {
            uint first = BinaryPrimitives.ReadUInt32BigEndian(ip);
            Assert.Equal(6u, first >> 28);
            tos = (byte)(first >> 20);
            flow = first & 0xFFFFF;
            ipLength = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            Assert.Equal(17, ip[6]);
            ttl = ip[7];
            source = new IPAddress(ip.Slice(8, 16));
            destination = new IPAddress(ip.Slice(24, 16));
            udpAt = 40;
        }

        Assert.Equal(14 + ipLength, frame.Length);
        Span<byte> udp = ip[udpAt..ipLength];
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        Assert.Equal(udp.Length, udpLength);
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
        bool udpChecksumValid = check == 0 && v4 || UdpVerifies(source, destination, udp);
        return new ParsedFrame(
            frame[..6], frame[6..12],
            new IPEndPoint(source, BinaryPrimitives.ReadUInt16BigEndian(udp)),
            new IPEndPoint(destination, BinaryPrimitives.ReadUInt16BigEndian(udp[2..])),
            ttl, tos, id, df, flow, udp[8..].ToArray(), check, ipChecksumValid, udpChecksumValid);
    }

    /// <summary>A ChannelData message: number, length, data, then <paramref name="padding"/> bytes of <paramref name="padByte"/>.</summary>
    public static byte[] ChannelData(ushort channel, byte[] data, int padding = 0, byte padByte = 0)
    {
        byte[] message = new byte[4 + data.Length + padding];
        BinaryPrimitives.WriteUInt16BigEndian(message, channel);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)data.Length);
        data.CopyTo(message, 4);
        message.AsSpan(4 + data.Length).Fill(padByte);
        return message;
    }

    public static byte[] Payload(int length, int seed = 1)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static ushort UdpChecksum(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp)
    {
        ushort check = Checksum(PseudoHeader(source, destination, udp.Length), Sum(udp, skipChecksum: true));
        return check == 0 ? (ushort)0xFFFF : check;
    }

    private static bool UdpVerifies(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp) =>
        Checksum(PseudoHeader(source, destination, udp.Length), Sum(udp, skipChecksum: false)) == 0;

    private static byte[] PseudoHeader(IPAddress source, IPAddress destination, int udpLength)
    {
        byte[] s = source.GetAddressBytes(), d = destination.GetAddressBytes();
        byte[] pseudo = new byte[s.Length + d.Length + 4];
        s.CopyTo(pseudo, 0);
        d.CopyTo(pseudo, s.Length);
        pseudo[^3] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(pseudo.Length - 2), (ushort)udpLength);
        return pseudo;
    }

    private static ulong Sum(ReadOnlySpan<byte> data, bool skipChecksum)
    {
        ulong sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            if (skipChecksum && i == 6)
            {
                continue;
            }

            sum += (ulong)((data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0));
        }

        return sum;
    }

    /// <summary>The ones' complement of the ones' complement sum of <paramref name="data"/> plus <paramref name="extra"/>.</summary>
    private static ushort Checksum(ReadOnlySpan<byte> data, ulong extra)
    {
        ulong sum = extra + Sum(data, skipChecksum: false);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}

public sealed record ParsedFrame(
    byte[] DestinationMac,
    byte[] SourceMac,
    IPEndPoint Source,
    IPEndPoint Destination,
    byte Ttl,
    byte Tos,
    ushort Id,
    bool DontFragment,
    uint FlowLabel,
    byte[] Payload,
    ushort UdpChecksum,
    bool IpChecksumValid,
    bool UdpChecksumValid);
