using System.ComponentModel.DataAnnotations;
using Relay.Core.Auth;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;

namespace Relay.Web.Admin;

/// <summary>One TURN allocation.</summary>
/// <param name="Id">Allocation id, unique for the life of the process.</param>
/// <param name="Client">The client's address and port (its side of the 5-tuple).</param>
/// <param name="Transport">The client transport (the relay speaks UDP only).</param>
/// <param name="Username">The username that created the allocation.</param>
/// <param name="RelayedAddresses">The relayed transport addresses (one per granted family, same port).</param>
/// <param name="CreatedAt">When the allocation was created.</param>
/// <param name="ExpiresAt">When it expires unless refreshed.</param>
/// <param name="RemainingLifetimeSeconds">Seconds until it expires.</param>
/// <param name="Permissions">Peer IPs that may send to the client.</param>
/// <param name="Channels">Channel bindings, bound or cooling down.</param>
/// <param name="Traffic">Payload packets and bytes relayed each way, by every data path together.</param>
/// <param name="XdpTraffic">The part of <paramref name="Traffic"/> the XDP fast path relayed in the kernel; null when offloading is off.</param>
/// <param name="DataPath">xdp when bound channels are relayed in the kernel (everything else still goes through userspace), else userspace.</param>
/// <param name="PacketsOverBandwidth">Packets dropped because the allocation was over --max-bps (both directions, every data path).</param>
public sealed record AllocationModel(
    long Id,
    string Client,
    string Transport,
    string Username,
    IReadOnlyList<string> RelayedAddresses,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    long RemainingLifetimeSeconds,
    IReadOnlyList<PermissionModel> Permissions,
    IReadOnlyList<ChannelModel> Channels,
    TrafficModel Traffic,
    TrafficModel? XdpTraffic,
    string DataPath,
    long PacketsOverBandwidth)
{
    /// <summary>The engine's snapshot plus what <paramref name="fastPath"/> relayed for the allocation, read now.</summary>
    public static AllocationModel From(AllocationSnapshot s, IFastPath fastPath, DateTimeOffset now)
    {
        ChannelTraffic offloaded = fastPath.Enabled ? fastPath.ReadAllocation(s.Port) : default;
        var engine = new ChannelTraffic(new TrafficCount(s.PacketsFromClient, s.BytesFromClient), new TrafficCount(s.PacketsToClient, s.BytesToClient));
        return new AllocationModel(
        s.Id.Value,
        s.Client.ToString(),
        "udp",
        s.Username,
        s.RelayedAddresses.Select(a => a.ToString()).ToList(),
        s.CreatedAt.ToDateTimeOffset(),
        s.ExpiresAt.ToDateTimeOffset(),
        Math.Max(0, (long)(s.ExpiresAt.ToDateTimeOffset() - now).TotalSeconds),
        s.Permissions.Select(p => new PermissionModel(p.Peer.ToString(), p.ExpiresAt.ToDateTimeOffset())).ToList(),
        s.Channels.OrderBy(c => c.Number.Value).Select(c => ChannelModel.From(c, s.Port, fastPath)).ToList(),
        TrafficModel.From(engine + offloaded),
        fastPath.Enabled ? TrafficModel.From(offloaded) : null,
        fastPath.Enabled ? fastPath.Name : "userspace",
        s.PacketsOverBandwidth + (fastPath.Enabled ? fastPath.ReadOverBandwidth(s.Port) : 0));
    }
}

/// <summary>A permission: the peer IP may send to the client until it expires.</summary>
/// <param name="Peer">Peer IP address.</param>
/// <param name="ExpiresAt">When the permission lapses unless refreshed.</param>
public sealed record PermissionModel(string Peer, DateTimeOffset ExpiresAt);

/// <summary>A channel binding.</summary>
/// <param name="Number">Channel number (decimal).</param>
/// <param name="Hex">Channel number as the RFC writes it.</param>
/// <param name="Peer">The peer the channel is bound to.</param>
/// <param name="ExpiresAt">When the binding expires (while bound) or was expired (while cooling down).</param>
/// <param name="Bound">False during the 5-minute cool-down after expiry.</param>
/// <param name="Traffic">Payload packets and bytes relayed on this channel each way, by every data path together.</param>
/// <param name="XdpTraffic">The part of <paramref name="Traffic"/> the XDP fast path relayed; null when offloading is off.</param>
public sealed record ChannelModel(int Number, string Hex, string Peer, DateTimeOffset ExpiresAt, bool Bound, TrafficModel Traffic, TrafficModel? XdpTraffic)
{
    public static ChannelModel From(ChannelSnapshot c, AllocationPort port, IFastPath fastPath)
    {
        ChannelTraffic offloaded = fastPath.Enabled ? fastPath.ReadChannel(port, c.Number) : default;
        var engine = new ChannelTraffic(new TrafficCount(c.PacketsFromClient, c.BytesFromClient), new TrafficCount(c.PacketsToClient, c.BytesToClient));
        return new ChannelModel(c.Number.Value, c.Number.ToString(), c.Peer.ToString(), c.ExpiresAt.ToDateTimeOffset(), c.Bound,
            TrafficModel.From(engine + offloaded), fastPath.Enabled ? TrafficModel.From(offloaded) : null);
    }
}

/// <summary>Relayed payload traffic.</summary>
/// <param name="PacketsFromClient">Packets the client sent to peers.</param>
/// <param name="BytesFromClient">Payload bytes the client sent to peers.</param>
/// <param name="PacketsToClient">Packets peers sent to the client.</param>
/// <param name="BytesToClient">Payload bytes peers sent to the client.</param>
public sealed record TrafficModel(long PacketsFromClient, long BytesFromClient, long PacketsToClient, long BytesToClient)
{
    public static TrafficModel From(ChannelTraffic t) => new(t.FromClient.Packets, t.FromClient.Bytes, t.ToClient.Packets, t.ToClient.Bytes);
}

/// <summary>A page of allocations in ascending id order.</summary>
/// <param name="Items">The allocations on this page.</param>
/// <param name="NextCursor">Pass as <c>cursor</c> for the next page; null on the last page.</param>
/// <param name="Total">How many allocations match the filters (all pages).</param>
public sealed record AllocationPage(IReadOnlyList<AllocationModel> Items, string? NextCursor, int Total);

/// <summary>Result of evicting a user's allocations.</summary>
public sealed record EvictionResult
{
    /// <summary>How many allocations were evicted.</summary>
    /// <example>2</example>
    public required int Evicted { get; init; }
}

/// <summary>A request for test credentials.</summary>
public sealed record CredentialsRequest
{
    /// <summary>Salt (firezone scheme) or user name (turn-rest scheme); random when omitted.</summary>
    /// <example>alice</example>
    public string? Salt { get; init; }

    /// <summary>Lifetime of the credentials in seconds, 60 to 31536000 (default 86400).</summary>
    /// <example>3600</example>
    [Range(CredentialRules.MinTtlSeconds, CredentialRules.MaxTtlSeconds)]
    public int? TtlSeconds { get; init; }
}

/// <summary>Credentials for this relay, usable by any TURN client.</summary>
public sealed record CredentialsResponse
{
    /// <summary>TURN username.</summary>
    /// <example>1795648800:alice</example>
    public required string Username { get; init; }

    /// <summary>TURN password.</summary>
    /// <example>00hqldgk5xLeKKOB+xls9mHMVtgqzie9DulfgQwMv68</example>
    public required string Password { get; init; }

    /// <summary>Realm the client will be challenged with.</summary>
    /// <example>firezone</example>
    public required string Realm { get; init; }

    /// <summary>When the username stops being accepted.</summary>
    /// <example>2026-11-25T22:00:00+00:00</example>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>TURN URLs of this relay (RFC 7065), for an RTCPeerConnection's iceServers.</summary>
    /// <example>["turn:203.0.113.10:3478?transport=udp"]</example>
    public required IReadOnlyList<string> Urls { get; init; }
}

/// <summary>The relay at a glance.</summary>
/// <param name="Version">Build version.</param>
/// <param name="StartedAt">When the relay started serving (its UDP sockets bound); null while starting.</param>
/// <param name="Mode">standalone, or portal when a token is configured.</param>
/// <param name="Portal">Portal connection: standalone, connecting, joined or disconnected.</param>
/// <param name="PortalDetails">The portal connection's history (null in standalone mode).</param>
/// <param name="PublicAddresses">Advertised public addresses.</param>
/// <param name="ListenPort">STUN/TURN UDP port.</param>
/// <param name="RelayPorts">Relay port range.</param>
/// <param name="AuthScheme">firezone or turn-rest.</param>
/// <param name="Allocations">Live allocations.</param>
/// <param name="Channels">Bound channels.</param>
/// <param name="Permissions">Installed permissions.</param>
/// <param name="DataPath">xdp while the XDP fast path is attached, else userspace.</param>
/// <param name="Limits">The quotas, caps and lifetimes in effect.</param>
public sealed record StatusModel(
    string Version,
    DateTimeOffset? StartedAt,
    string Mode,
    string Portal,
    PortalModel? PortalDetails,
    IReadOnlyList<string> PublicAddresses,
    int ListenPort,
    string RelayPorts,
    string AuthScheme,
    int Allocations,
    int Channels,
    int Permissions,
    string DataPath,
    LimitsModel Limits);

/// <summary>The portal connection.</summary>
/// <param name="Url">Portal URL (without its query string).</param>
/// <param name="StateSince">When the current state was entered.</param>
/// <param name="LastJoinedAt">The last successful join.</param>
/// <param name="Reconnects">Connection attempts after the first.</param>
/// <param name="LastError">Why the last connection ended, if it did.</param>
/// <param name="NextAttemptAt">When the next attempt starts, while waiting to retry.</param>
public sealed record PortalModel(string? Url, DateTimeOffset StateSince, DateTimeOffset? LastJoinedAt, long Reconnects, string? LastError, DateTimeOffset? NextAttemptAt);

/// <summary>The log filter in effect.</summary>
public sealed record LogFilterModel
{
    /// <summary>RUST_LOG-style directives.</summary>
    /// <example>info,relay=debug</example>
    public required string Directives { get; init; }
}

/// <summary>The answer to POST /admin/drain: the relay is stopping, draining for up to this long first.</summary>
public sealed record DrainResult
{
    /// <summary>--drain-timeout: 0 means the relay exits at once.</summary>
    public int DrainTimeoutSeconds { get; init; }
}
