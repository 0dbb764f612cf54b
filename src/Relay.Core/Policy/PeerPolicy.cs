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

    /// <summary>RFC 1918 (10/8, 172.16/12, 192.168/16) or a unique-local IPv6 address (fc00::/7).</summary>
    Private,

    /// <summary>Carrier-grade NAT space, 100.64.0.0/10 (RFC 6598).</summary>
    SharedAddressSpace,

    /// <summary>192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20: never on the Internet.</summary>
    Documentation,

    /// <summary>Inside a <c>--denied-peer-ip</c> block.</summary>
    DeniedByOperator,
}

/// <summary>What an operator changed about the default peer policy.</summary>
public sealed record PeerPolicyOptions
{
    /// <summary>Relay to 127/8 and ::1 (tests and single-machine use).</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>Relay to RFC 1918, CGNAT, unique-local and documentation addresses (labs).</summary>
    public bool AllowPrivate { get; init; }

    /// <summary>Blocks always allowed, whatever range they fall in; checked before <see cref="Denied"/>.</summary>
    public IReadOnlyList<IpNetwork> Allowed { get; init; } = [];

    /// <summary>Blocks refused in addition to the built-in ones.</summary>
    public IReadOnlyList<IpNetwork> Denied { get; init; } = [];
}

/// <summary>
/// Decides which peers an allocation may talk to. Every check first canonicalises the address (IPv4-mapped,
/// IPv4-compatible, NAT64 64:ff9b::/96 and 6to4 2002::/16 forms become the IPv4 address they carry): every coturn
/// peer-ACL CVE was an address-normalisation bug (0.0.0.0, ::, ::ffff:127.0.0.1, 6to4, NAT64).
/// <para>
/// Refused by default: unspecified (0.0.0.0/8, ::), loopback, link-local (169.254/16 with the cloud metadata
/// address, fe80::/10), multicast, 240/4 and broadcast, site-local fec0::/10, Teredo 2001::/32, RFC 1918, CGNAT
/// 100.64/10, unique-local fc00::/7, the documentation blocks, and operator-denied blocks. An operator-allowed
/// block wins over all of those. Never allowed: port 0, and the relay's own ports (listening, health, admin) on
/// any of its own addresses — relaying there would feed the relay its own output or reach its control plane.
/// </para>
/// </summary>
public sealed class PeerPolicy
{
    private readonly HashSet<IpAddr> _ownAddresses = new();
    private readonly HashSet<ushort> _ownPorts;
    private readonly PeerPolicyOptions _options;

    /// <param name="ownAddresses">The relay's addresses (public and interface ones); canonicalised here.</param>
    /// <param name="ownPorts">The relay's listening port and its HTTP ports.</param>
    public PeerPolicy(PeerPolicyOptions options, IEnumerable<ushort> ownPorts, IEnumerable<IpAddr>? ownAddresses = null)
    {
        _options = options;
        _ownPorts = new HashSet<ushort>(ownPorts);
        foreach (IpAddr address in ownAddresses ?? [])
        {
            _ownAddresses.Add(Canonicalize(address));
        }
    }

    public PeerDenial Check(TransportAddress peer)
    {
        if (peer.Port == 0)
        {
            return PeerDenial.PortZero;
        }

        IpAddr ip = Canonicalize(peer.Address);
        if ((_ownAddresses.Contains(ip) || IsLoopback(ip)) && _ownPorts.Contains(peer.Port))
        {
            return PeerDenial.RelayItself;
        }

        if (InAny(_options.Allowed, ip, peer.Address))
        {
            return PeerDenial.None;
        }

        if (InAny(_options.Denied, ip, peer.Address))
        {
            return PeerDenial.DeniedByOperator;
        }

        PeerDenial denial = Classify(ip);
        return denial switch
        {
            PeerDenial.Loopback when _options.AllowLoopback => PeerDenial.None,
            PeerDenial.Private or PeerDenial.SharedAddressSpace or PeerDenial.Documentation when _options.AllowPrivate => PeerDenial.None,
            _ => denial,
        };
    }

    /// <summary>The built-in class of a canonical address.</summary>
    public static PeerDenial Classify(IpAddr ip)
    {
        if (ip.IsV4)
        {
            uint a = ip.V4Value;
            return (a >> 24) switch
            {
                0 => PeerDenial.Unspecified,
                10 => PeerDenial.Private,
                127 => PeerDenial.Loopback,
                >= 224 and <= 239 => PeerDenial.Multicast,
                >= 240 => PeerDenial.Reserved, // 240/4 and 255.255.255.255
                _ when (a >> 16) == 0xA9FE => PeerDenial.LinkLocal, // 169.254/16
                _ when (a >> 20) == 0xAC1 => PeerDenial.Private, // 172.16/12
                _ when (a >> 16) == 0xC0A8 => PeerDenial.Private, // 192.168/16
                _ when (a >> 22) == 0x191 => PeerDenial.SharedAddressSpace, // 100.64/10
                _ when (a >> 8) is 0xC00002 or 0xC63364 or 0xCB0071 => PeerDenial.Documentation, // 192.0.2/24, 198.51.100/24, 203.0.113/24
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
            return PeerDenial.Loopback;
        }

        ushort first = (ushort)(hi >> 48);
        return first switch
        {
            >= 0xFF00 => PeerDenial.Multicast,
            _ when (first & 0xFFC0) == 0xFE80 => PeerDenial.LinkLocal,
            _ when (first & 0xFFC0) == 0xFEC0 => PeerDenial.Reserved, // site-local, deprecated
            _ when (first & 0xFE00) == 0xFC00 => PeerDenial.Private, // unique-local fc00::/7
            _ when (hi >> 32) == 0x2001_0000 => PeerDenial.Teredo,
            _ when (hi >> 32) == 0x2001_0DB8 || (first & 0xFFF0) == 0x3FF0 => PeerDenial.Documentation, // 2001:db8::/32, 3fff::/20
            _ => PeerDenial.None,
        };
    }

    private static bool InAny(IReadOnlyList<IpNetwork> networks, IpAddr canonical, IpAddr original)
    {
        foreach (IpNetwork network in networks)
        {
            if (network.Contains(canonical) || network.Contains(original))
            {
                return true;
            }
        }

        return false;
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
