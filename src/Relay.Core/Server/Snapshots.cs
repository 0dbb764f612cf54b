using Relay.Core.Net;
using Relay.Core.Time;

namespace Relay.Core.Server;

/// <summary>A point-in-time copy of one allocation, for the admin API. Taken on the engine's thread.</summary>
public sealed record AllocationSnapshot(
    AllocationId Id,
    AllocationPort Port,
    ClientSocket Client,
    string Username,
    IReadOnlyList<TransportAddress> RelayedAddresses,
    Instant CreatedAt,
    Instant ExpiresAt,
    IReadOnlyList<PermissionSnapshot> Permissions,
    IReadOnlyList<ChannelSnapshot> Channels,
    long PacketsFromClient,
    long BytesFromClient,
    long PacketsToClient,
    long BytesToClient,
    long PacketsOverBandwidth);

public sealed record PermissionSnapshot(IpAddr Peer, Instant ExpiresAt);

/// <summary>A channel as the engine saw it; the counters are the traffic the engine itself relayed on it.</summary>
public sealed record ChannelSnapshot(
    ChannelNumber Number,
    PeerSocket Peer,
    Instant ExpiresAt,
    bool Bound,
    long PacketsFromClient,
    long BytesFromClient,
    long PacketsToClient,
    long BytesToClient);
