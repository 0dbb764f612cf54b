using Relay.Core.Net;

namespace Relay.Core.Policy;

/// <summary>Why a peer address is refused (403).</summary>
public enum PeerDenial
{
    None,
    Unspecified,
    Loopback,
    LinkLocal,
    Multicast,
    Reserved,
    Teredo,
    PortZero,
    RelayItself,
}

/// <summary>
/// Decides which peers an allocation may talk to. Every check first canonicalises the address (IPv4-mapped,
/// IPv4-compatible, NAT64 64:ff9b::/96 and 6to4 2002::/16 forms become the IPv4 address they carry): every coturn
/// peer-ACL CVE was an address-normalisation bug (0.0.0.0, ::, ::ffff:127.0.0.1, 6to4, NAT64).
/// <para>
/// Denied always: unspecified (0.0.0.0/8, ::), link-local (169.254/16 incl. the cloud metadata address, fe80::/10),
/// multicast, 240/4 and broadcast, site-local fec0::/10, Teredo 2001::/32, port 0, and the relay's own listening
/// port on any of its own addresses (public, loopback, or an interface address behind a cloud NAT): relaying there
/// would feed the relay its own output as client traffic. Loopback is denied unless <see cref="AllowLoopback"/>
/// (tests and single-machine use). Private ranges are allowed for now; refusing them by default belongs to the
/// hardening work.
/// </para>
/// </summary>
public sealed class PeerPolicy
{
    private readonly HashSet<IpAddr> _ownAddresses = new();
    private readonly ushort _listenPort;

    /// <param name="ownAddresses">The relay's addresses (public and interface ones); canonicalised here.</param>
    public PeerPolicy(bool allowLoopback, ushort listenPort, IEnumerable<IpAddr>? ownAddresses = null)
    {
        AllowLoopback = allowLoopback;
        _listenPort = listenPort;
        foreach (IpAddr address in ownAddresses ?? [])
        {
            _ownAddresses.Add(Canonicalize(address));
        }
    }

    public bool AllowLoopback { get; }

    public PeerDenial Check(TransportAddress peer)
    {
        if (peer.Port == 0)
        {
            return PeerDenial.PortZero;
        }

        IpAddr ip = Canonicalize(peer.Address);
        PeerDenial denial = Classify(ip);
        if (denial != PeerDenial.None)
        {
            return denial;
        }

        // Relaying to our own listening port would feed the relay its own output as "client" traffic.
        bool ownAddress = _ownAddresses.Contains(ip) || IsLoopback(ip);
        return ownAddress && peer.Port == _listenPort ? PeerDenial.RelayItself : PeerDenial.None;
    }

    private PeerDenial Classify(IpAddr ip)
    {
        if (ip.IsV4)
        {
            uint a = ip.V4Value;
            return (a >> 24) switch
            {
                0 => PeerDenial.Unspecified,
                127 => AllowLoopback ? PeerDenial.None : PeerDenial.Loopback,
                >= 224 and <= 239 => PeerDenial.Multicast,
                >= 240 => PeerDenial.Reserved,
                _ when (a >> 16) == 0xA9FE => PeerDenial.LinkLocal,
                _ => PeerDenial.None,
            };
        }

        ulong hi = ip.High;
        if (hi == 0 && ip.Low == 0)
        {
            return PeerDenial.Unspecified;
        }

        if (hi == 0 && ip.Low == 1)
        {
            return AllowLoopback ? PeerDenial.None : PeerDenial.Loopback;
        }

        ushort first = (ushort)(hi >> 48);
        return first switch
        {
            >= 0xFF00 => PeerDenial.Multicast,
            _ when (first & 0xFFC0) == 0xFE80 => PeerDenial.LinkLocal,
            _ when (first & 0xFFC0) == 0xFEC0 => PeerDenial.Reserved,
            _ when (hi >> 32) == 0x2001_0000 => PeerDenial.Teredo,
            _ => PeerDenial.None,
        };
    }

    private static bool IsLoopback(IpAddr ip) => ip.IsV4 ? (ip.V4Value >> 24) == 127 : ip.High == 0 && ip.Low == 1;

    /// <summary>The IPv4 address an IPv6 address embeds (mapped, compatible, NAT64, 6to4), or the address itself.</summary>
    public static IpAddr Canonicalize(IpAddr ip)
    {
        if (ip.IsV4)
        {
            return ip;
        }

        ulong hi = ip.High, lo = ip.Low;
        if (hi == 0 && (lo >> 32) == 0xFFFF)
        {
            return IpAddr.FromV4((uint)lo); // ::ffff:a.b.c.d
        }

        if (hi == 0 && (lo >> 32) == 0 && lo > 1)
        {
            return IpAddr.FromV4((uint)lo); // ::a.b.c.d (deprecated IPv4-compatible)
        }

        if (hi == 0x0064_FF9B_0000_0000UL && (lo >> 32) == 0)
        {
            return IpAddr.FromV4((uint)lo); // 64:ff9b::a.b.c.d (NAT64 well-known prefix)
        }

        if ((hi >> 48) == 0x2002)
        {
            return IpAddr.FromV4((uint)(hi >> 16)); // 2002:AABB:CCDD::/48 (6to4)
        }

        return ip;
    }
}
