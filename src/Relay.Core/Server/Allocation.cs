using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

/// <summary>
/// One TURN allocation: the client 5-tuple, the relayed port (the same number on every granted family), its
/// permissions and channels, and the traffic it carried.
/// </summary>
internal sealed class Allocation : Timed
{
    public Allocation(AllocationId id, ClientSocket client, string username, string quotaKey, byte[] key, AllocationPort port)
    {
        Id = id;
        Client = client;
        Username = username;
        QuotaKey = quotaKey;
        Key = key;
        Port = port;
    }

    public AllocationId Id { get; }

    public ClientSocket Client { get; }

    public string Username { get; }

    public string QuotaKey { get; }

    /// <summary>The long-term key the allocation was created with (MD5 or SHA-256 of user:realm:password).</summary>
    public byte[] Key { get; }

    /// <summary>Mutable only while the host has not yet confirmed the bind (a failed bind picks another port).</summary>
    public AllocationPort Port { get; set; }

    public bool RelaysV4 { get; set; }

    public bool RelaysV6 { get; set; }

    public bool DontFragment { get; set; }

    public Instant CreatedAt { get; init; }

    public Instant ExpiresAt { get; set; }

    public override Instant Deadline => ExpiresAt;

    public Dictionary<IpAddr, Permission> Permissions { get; } = new();

    public Dictionary<ushort, Channel> ChannelsByNumber { get; } = new();

    public Dictionary<PeerSocket, Channel> ChannelsByPeer { get; } = new();

    /// <summary>The Allocate success, resent verbatim when the same transaction is retransmitted.</summary>
    public byte[] AllocateResponse { get; set; } = [];

    /// <summary>Token of the port reserved next to this one (EVEN-PORT with the R bit), while it is held.</summary>
    public ulong? ReservationToken { get; set; }

    /// <summary>Families whose CreateAllocation the host has taken from the queue (and so has bound or is binding).</summary>
    public bool BoundV4 { get; set; }

    public bool BoundV6 { get; set; }

    /// <summary>Commands not yet taken by the host that a bind failure must withdraw.</summary>
    public List<RelayCommand> PendingCommands { get; } = new();

    /// <summary>What is needed to rebuild the Allocate response when a bind failure moves the allocation.</summary>
    public required AllocateReplay Replay { get; init; }

    public int BindAttempts { get; set; }

    /// <summary>The bandwidth cap's buckets, one per direction (full at creation; unused without a cap).</summary>
    public ByteBudget BudgetFromClient;
    public ByteBudget BudgetToClient;

    /// <summary>Packets dropped because a direction's budget was spent (both directions).</summary>
    public long PacketsOverBandwidth;

    public long PacketsFromClient;
    public long BytesFromClient;
    public long PacketsToClient;
    public long BytesToClient;

    public bool Relays(IpFamily family) => family == IpFamily.V4 ? RelaysV4 : RelaysV6;

    public bool IsPermitted(IpAddr peer, Instant now) =>
        Permissions.TryGetValue(peer, out Permission? permission) && permission.ExpiresAt > now;
}

/// <summary>The parts of an Allocate request the success response is rebuilt from after a failed bind.</summary>
internal sealed record AllocateReplay(
    byte[] TransactionId,
    IntegrityKind IntegrityKind,
    bool Fingerprint,
    uint Lifetime,
    bool EvenPort,
    bool ReservePair,
    bool FromReservation,
    IpFamily? PartialFailureFamily);

internal sealed class Permission : Timed
{
    public Permission(Allocation allocation, IpAddr peer, Instant expiresAt)
    {
        Allocation = allocation;
        Peer = peer;
        ExpiresAt = expiresAt;
    }

    public Allocation Allocation { get; }

    public IpAddr Peer { get; }

    public Instant ExpiresAt { get; set; }

    public override Instant Deadline => ExpiresAt;
}

/// <summary>
/// A channel binding. While bound it relays; after it expires it stays (unbound) for the rebind cool-down so that
/// neither its number nor its peer can be bound to something else for 5 minutes (RFC 8656 §12).
/// </summary>
internal sealed class Channel : Timed
{
    public Channel(Allocation allocation, ChannelNumber number, PeerSocket peer)
    {
        Allocation = allocation;
        Number = number;
        Peer = peer;
    }

    public Allocation Allocation { get; }

    public ChannelNumber Number { get; }

    public PeerSocket Peer { get; }

    public bool Bound { get; set; }

    public Instant ExpiresAt { get; set; }

    public TimeSpan Cooldown { get; init; }

    public long PacketsFromClient { get; set; }

    public long BytesFromClient { get; set; }

    public long PacketsToClient { get; set; }

    public long BytesToClient { get; set; }

    public override Instant Deadline => Bound ? ExpiresAt : ExpiresAt + Cooldown;
}

/// <summary>A port held for a later Allocate carrying RESERVATION-TOKEN (EVEN-PORT with the R bit).</summary>
internal sealed class Reservation : Timed
{
    public Reservation(ulong token, AllocationPort port, IpFamily family, Instant expiresAt)
    {
        Token = token;
        Port = port;
        Family = family;
        ExpiresAt = expiresAt;
    }

    public ulong Token { get; }

    public AllocationPort Port { get; }

    public IpFamily Family { get; }

    public Instant ExpiresAt { get; }

    public override Instant Deadline => ExpiresAt;
}
