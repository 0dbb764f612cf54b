using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Randomness;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

/// <summary>
/// The TURN relay as a sans-IO state machine (RFC 8489/8656, Firezone-compatible). Inputs are datagrams with their
/// addresses and the current <see cref="Instant"/>; outputs are <see cref="RelayCommand"/>s taken with
/// <see cref="PollCommand"/>, a wake-up time from <see cref="PollTimeout"/>, and — for relayed data, which is the
/// hot path — a route returned directly so no bytes are copied. Not thread-safe: drive it from one thread.
/// </summary>
public sealed partial class RelayServer
{
    /// <summary>Bytes a host must leave in front of a peer payload: a Data indication header with an IPv6 peer.</summary>
    public const int PeerHeadroom = StunConstants.HeaderLength + 4 + 20 + 4;

    /// <summary>Bytes a host must leave after a peer payload: Data indication padding.</summary>
    public const int PeerTailroom = 3;

    private readonly RelayServerOptions _options;
    private readonly IRandomSource _random;
    private readonly IRelayObserver? _observer;
    private readonly CredentialScheme _credentials;
    private readonly StatelessNonces _nonces;
    private readonly PeerPolicy _peerPolicy;
    private readonly SourceRateLimiter _unauthenticated;
    private readonly PortPool _ports;
    private readonly TimerQueue _timers = new();
    private readonly Queue<RelayCommand> _commands = new();
    private readonly HashSet<RelayCommand> _withdrawn = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<RelayCommand, Allocation> _pendingOwners = new(ReferenceEqualityComparer.Instance);
    private readonly byte[] _scratch = new byte[4096];
    private readonly byte[] _realmBytes;

    private readonly Dictionary<ClientSocket, Allocation> _allocationsByClient = new();
    private readonly Dictionary<AllocationPort, Allocation> _allocationsByPort = new();
    private readonly Dictionary<AllocationId, Allocation> _allocationsById = new();
    private readonly Dictionary<string, Allocation> _allocationsByUsername = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _allocationsPerUser = new(StringComparer.Ordinal);
    private readonly Dictionary<(ClientSocket Client, ushort Number), Channel> _channelsByClient = new();
    private readonly Dictionary<(AllocationPort Port, PeerSocket Peer), Channel> _channelsByPeer = new();
    private readonly Dictionary<ulong, Reservation> _reservations = new();
    private long _nextAllocationId = 1;
    private bool _draining;
    private TransportAddress? _alternateServer;
    private int _boundChannels;
    private int _permissions;

    public RelayServer(RelayServerOptions options, IRandomSource random, IRelayObserver? observer = null)
    {
        options.Validate();
        _options = options;
        _random = random;
        _observer = observer;
        _credentials = CredentialScheme.Create(options.AuthScheme, options.RelaySecret ?? random.NextHexSecret());
        _nonces = new StatelessNonces(random, options.NonceLifetime);
        IEnumerable<IpAddr> own = [.. options.LocalAddresses, .. new[] { options.PublicIPv4, options.PublicIPv6 }.OfType<IpAddr>()];
        _peerPolicy = new PeerPolicy(options.Peers, [options.ListenPort, .. options.ControlPorts], own);
        _unauthenticated = new SourceRateLimiter(options.UnauthenticatedResponsesPerSecond, options.UnauthenticatedResponseBurst, random);
        _ports = new PortPool(options.LowestPort, options.HighestPort, random, excluded: options.ListenPort);
        _realmBytes = System.Text.Encoding.UTF8.GetBytes(options.Realm);
    }

    public RelayServerOptions Options => _options;

    /// <summary>The credential secret (configured or generated); the portal join sends it as <c>stamp_secret</c>.</summary>
    public string AuthSecret => _credentials.Secret;

    public CredentialScheme Credentials => _credentials;

    public RelayCounters Counters { get; } = new();

    /// <summary>What the peer policy says of <paramref name="peer"/>; safe from any thread (the policy never changes).</summary>
    public PeerDenial CheckPeer(TransportAddress peer) => _peerPolicy.Check(peer);

    public int AllocationCount => _allocationsById.Count;

    public int BoundChannelCount => _boundChannels;

    public int PermissionCount => _permissions;

    /// <summary>Takes the next command, or null when there is none. Execute each before taking the next.</summary>
    public RelayCommand? PollCommand()
    {
        while (_commands.TryDequeue(out RelayCommand? command))
        {
            if (_withdrawn.Remove(command))
            {
                continue;
            }

            if (_pendingOwners.Remove(command, out Allocation? owner))
            {
                owner.PendingCommands.Remove(command);
                if (command is CreateAllocation create)
                {
                    if (create.Family == IpFamily.V4)
                    {
                        owner.BoundV4 = true;
                    }
                    else
                    {
                        owner.BoundV6 = true;
                    }
                }
            }

            return command;
        }

        return null;
    }

    /// <summary>When <see cref="HandleTimeout"/> must next be called, or null when nothing is scheduled.</summary>
    public Instant? PollTimeout() => _timers.Peek();

    /// <summary>Expires allocations, channels, permissions and reservations whose time has come.</summary>
    public void HandleTimeout(Instant now)
    {
        while (_timers.TryPopDue(now, out Timed item))
        {
            switch (item)
            {
                case Allocation allocation:
                    DeleteAllocation(allocation, DeletionReason.Expired);
                    break;
                case Channel channel:
                    OnChannelDeadline(channel);
                    break;
                case Permission permission:
                    RemovePermission(permission);
                    break;
                case Reservation reservation:
                    _reservations.Remove(reservation.Token);
                    _ports.Release(reservation.Port.Value);
                    _timers.Cancel(reservation);
                    break;
            }
        }
    }

    /// <summary>
    /// A datagram from a client on the listening port. Returns a route when it is data to relay (ChannelData or a
    /// Send indication); everything else is answered through commands or dropped.
    /// </summary>
    public ClientRoute HandleClientInput(ReadOnlySpan<byte> datagram, ClientSocket from, Instant now)
    {
        if (from.Address.Port == 0)
        {
            Counters.CountDrop(DropReason.ClientPortZero); // cannot be answered (the reference's "os error 22")
            return ClientRoute.None;
        }

        if (ChannelData.LooksLikeChannelData(datagram))
        {
            return HandleChannelData(datagram, from, now);
        }

        if (StunMessage.LooksLikeStun(datagram))
        {
            return HandleStun(datagram, from, now);
        }

        Counters.CountDrop(DropReason.NotTurn);
        return ClientRoute.None;
    }

    /// <summary>Whether the relay is draining: no new allocations, existing ones keep relaying and refreshing.</summary>
    public bool Draining => _draining;

    /// <summary>
    /// Starts draining (a graceful shutdown): from now on an Allocate gets 300 with ALTERNATE-SERVER when
    /// <paramref name="alternateServer"/> is given, else 508; everything else works as before.
    /// </summary>
    public void BeginDrain(TransportAddress? alternateServer)
    {
        _draining = true;
        _alternateServer = alternateServer;
    }

    /// <summary>Evicts an allocation (admin API): channels removed, port freed; the client's next request gets 437.</summary>
    public bool EvictAllocation(AllocationId id)
    {
        if (!_allocationsById.TryGetValue(id, out Allocation? allocation))
        {
            return false;
        }

        DeleteAllocation(allocation, DeletionReason.Evicted);
        return true;
    }

    /// <summary>Evicts every allocation created with <paramref name="username"/>; returns how many.</summary>
    public int EvictUser(string username)
    {
        var victims = new List<Allocation>();
        foreach (Allocation allocation in _allocationsById.Values)
        {
            if (allocation.Username == username)
            {
                victims.Add(allocation);
            }
        }

        foreach (Allocation allocation in victims)
        {
            DeleteAllocation(allocation, DeletionReason.Evicted);
        }

        return victims.Count;
    }

    public IReadOnlyList<AllocationSnapshot> SnapshotAllocations()
    {
        var list = new List<AllocationSnapshot>(_allocationsById.Count);
        foreach (Allocation allocation in _allocationsById.Values)
        {
            list.Add(Snapshot(allocation));
        }

        return list;
    }

    public AllocationSnapshot? SnapshotAllocation(AllocationId id) =>
        _allocationsById.TryGetValue(id, out Allocation? allocation) ? Snapshot(allocation) : null;

    private AllocationSnapshot Snapshot(Allocation a)
    {
        var relayed = new List<TransportAddress>(2);
        if (a.RelaysV4)
        {
            relayed.Add(new TransportAddress(_options.PublicIPv4!.Value, a.Port.Value));
        }

        if (a.RelaysV6)
        {
            relayed.Add(new TransportAddress(_options.PublicIPv6!.Value, a.Port.Value));
        }

        var permissions = new List<PermissionSnapshot>(a.Permissions.Count);
        foreach (Permission p in a.Permissions.Values)
        {
            permissions.Add(new PermissionSnapshot(p.Peer, p.ExpiresAt));
        }

        var channels = new List<ChannelSnapshot>(a.ChannelsByNumber.Count);
        foreach (Channel c in a.ChannelsByNumber.Values)
        {
            channels.Add(new ChannelSnapshot(c.Number, c.Peer, c.ExpiresAt, c.Bound, c.PacketsFromClient, c.BytesFromClient, c.PacketsToClient, c.BytesToClient));
        }

        return new AllocationSnapshot(a.Id, a.Port, a.Client, a.Username, relayed, a.CreatedAt, a.ExpiresAt, permissions, channels,
            a.PacketsFromClient, a.BytesFromClient, a.PacketsToClient, a.BytesToClient, a.PacketsOverBandwidth);
    }

    private void Emit(RelayEvent relayEvent) => _observer?.OnEvent(relayEvent);

    private void Enqueue(RelayCommand command) => _commands.Enqueue(command);

    /// <summary>Queues a command that a bind failure of <paramref name="owner"/> may still withdraw.</summary>
    private void EnqueuePending(Allocation owner, RelayCommand command)
    {
        _commands.Enqueue(command);
        owner.PendingCommands.Add(command);
        _pendingOwners[command] = owner;
    }

    private void WithdrawPending(Allocation owner)
    {
        foreach (RelayCommand command in owner.PendingCommands)
        {
            _withdrawn.Add(command);
            _pendingOwners.Remove(command);
        }

        owner.PendingCommands.Clear();
    }
}
