using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

// Allocate (RFC 8656 §7.2), Refresh (§8.2), allocation deletion and bind-failure recovery.
public sealed partial class RelayServer
{
    private const int MaxBindAttempts = 8;

    private void HandleAllocate(ref Request request)
    {
        StunMessage message = request.Message;
        if (_allocationsByClient.TryGetValue(request.Client, out Allocation? existing)
            && message.TransactionId.SequenceEqual(existing.Replay.TransactionId))
        {
            // A retransmission whose success was lost: answer it again instead of 437.
            Enqueue(new SendToClient(request.Client, existing.AllocateResponse, StunMethod.Allocate, 0));
            return;
        }

        if (!Authenticate(ref request))
        {
            return;
        }

        if (existing is not null)
        {
            Emit(new RequestRejected(request.Client, request.Method, StunErrors.AllocationMismatch, Rejection.AllocationExists, existing.Id.ToString()));
            RespondError(ref request, StunErrors.AllocationMismatch);
            return;
        }

        if (_draining)
        {
            RefuseWhileDraining(ref request);
            return;
        }

        if (!message.TryGetAttribute(StunAttr.RequestedTransport, out ReadOnlySpan<byte> transport) || transport.Length != 4)
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        if (transport[0] != StunConstants.TransportUdp)
        {
            RespondError(ref request, StunErrors.UnsupportedTransportProtocol);
            return;
        }

        bool hasEvenPort = message.TryGetAttribute(StunAttr.EvenPort, out ReadOnlySpan<byte> evenPort);
        bool hasRequestedFamily = message.TryGetAttribute(StunAttr.RequestedAddressFamily, out ReadOnlySpan<byte> requestedFamily);
        bool hasAdditionalFamily = message.TryGetAttribute(StunAttr.AdditionalAddressFamily, out ReadOnlySpan<byte> additionalFamily);

        Reservation? reservation = null;
        if (message.TryGetAttribute(StunAttr.ReservationToken, out ReadOnlySpan<byte> token))
        {
            if (hasEvenPort || hasRequestedFamily || hasAdditionalFamily || token.Length != 8)
            {
                RespondError(ref request, StunErrors.BadRequest);
                return;
            }

            if (!_reservations.TryGetValue(BinaryPrimitives.ReadUInt64BigEndian(token), out reservation) || reservation.ExpiresAt <= request.Now)
            {
                RespondError(ref request, StunErrors.InsufficientCapacity);
                return;
            }
        }

        if ((hasRequestedFamily && hasAdditionalFamily) || (hasEvenPort && evenPort.Length < 1))
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        bool reservePair = hasEvenPort && (evenPort[0] & 0x80) != 0;
        if (reservePair && hasAdditionalFamily)
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        if (!TryDeriveFamilies(ref request, reservation, requestedFamily, hasRequestedFamily, additionalFamily, hasAdditionalFamily,
                out bool v4, out bool v6, out IpFamily? partialFailure))
        {
            return;
        }

        string username = request.Username!;
        bool replacesOwn = _credentials.OneAllocationPerUsername && _allocationsByUsername.ContainsKey(username);
        if (_options.MaxAllocations > 0 && _allocationsById.Count >= _options.MaxAllocations && !replacesOwn)
        {
            RespondError(ref request, StunErrors.InsufficientCapacity);
            return;
        }

        string quotaKey = _credentials.QuotaKey(username);
        if (!_credentials.OneAllocationPerUsername && _options.MaxAllocationsPerUser > 0
            && _allocationsPerUser.GetValueOrDefault(quotaKey) >= _options.MaxAllocationsPerUser)
        {
            RespondError(ref request, StunErrors.AllocationQuotaReached);
            return;
        }

        if (!TryGetLifetime(ref request, refresh: false, out TimeSpan lifetime))
        {
            return;
        }

        // Firezone: one allocation per username; the newest wins (NATs that flip the source port, #12319).
        if (_credentials.OneAllocationPerUsername && _allocationsByUsername.TryGetValue(username, out Allocation? previous))
        {
            DeleteAllocation(previous, DeletionReason.ReplacedBySameUser);
        }

        ushort port;
        if (reservation is not null)
        {
            port = reservation.Port.Value; // held by the reservation; now held by the allocation
            _reservations.Remove(reservation.Token);
            _timers.Cancel(reservation);
        }
        else if (!_ports.TryAcquire(even: hasEvenPort, pair: reservePair, request.Now, out port))
        {
            Emit(new PortsExhausted(request.Client));
            RespondError(ref request, StunErrors.InsufficientCapacity);
            return;
        }

        var allocation = new Allocation(new AllocationId(_nextAllocationId++), request.Client, username, quotaKey, request.Key!, new AllocationPort(port))
        {
            CreatedAt = request.Now,
            ExpiresAt = request.Now + lifetime,
            RelaysV4 = v4,
            RelaysV6 = v6,
            DontFragment = message.HasAttribute(StunAttr.DontFragment),
            Replay = new AllocateReplay(message.TransactionId.ToArray(), request.Kind, message.HasFingerprint,
                (uint)lifetime.TotalSeconds, hasEvenPort, reservePair, reservation is not null, partialFailure),
            BudgetFromClient = ByteBudget.Full(_options.MaxBytesPerSecondPerAllocation, request.Now),
            BudgetToClient = ByteBudget.Full(_options.MaxBytesPerSecondPerAllocation, request.Now),
        };

        _allocationsByClient.Add(allocation.Client, allocation);
        _allocationsByPort.Add(allocation.Port, allocation);
        _allocationsById.Add(allocation.Id, allocation);
        if (_credentials.OneAllocationPerUsername)
        {
            _allocationsByUsername[username] = allocation;
        }

        _allocationsPerUser[quotaKey] = _allocationsPerUser.GetValueOrDefault(quotaKey) + 1;
        _timers.Schedule(allocation);
        if (reservePair)
        {
            CreateReservation(allocation, request.Now);
        }

        QueueAllocationSetup(allocation);
        Emit(new AllocationCreated(allocation.Id, allocation.Client, username, allocation.Port, v4, v6, lifetime));
    }

    /// <summary>300 Try Alternate naming the other relay (RFC 8489 §10), or 508 when there is none.</summary>
    private void RefuseWhileDraining(ref Request request)
    {
        if (_alternateServer is not { } alternate)
        {
            RespondError(ref request, StunErrors.InsufficientCapacity);
            return;
        }

        var writer = BeginResponse(request, StunClass.ErrorResponse);
        writer.AddErrorCode(StunErrors.TryAlternate, StunErrors.Reason(StunErrors.TryAlternate));
        writer.AddAddress(StunAttr.AlternateServer, alternate);
        Send(ref request, ref writer, StunErrors.TryAlternate);
    }

    /// <summary>
    /// Which relayed families to grant (RFC 8656 §7.2 steps 6–9, plus the Firezone table): REQUESTED-ADDRESS-FAMILY
    /// picks one (IPv4 by default, 440 if the relay lacks it); ADDITIONAL-ADDRESS-FAMILY=IPv6 asks for both and a
    /// relay with one family grants that one with ADDRESS-ERROR-CODE naming the other.
    /// </summary>
    private bool TryDeriveFamilies(ref Request request, Reservation? reservation, ReadOnlySpan<byte> requested, bool hasRequested,
        ReadOnlySpan<byte> additional, bool hasAdditional, out bool v4, out bool v6, out IpFamily? partialFailure)
    {
        v4 = v6 = false;
        partialFailure = null;
        if (reservation is not null)
        {
            v4 = reservation.Family == IpFamily.V4;
            v6 = !v4;
            return true;
        }

        if (hasAdditional)
        {
            if (additional.Length != 4 || additional[0] is not ((byte)IpFamily.V4 or (byte)IpFamily.V6) || additional[0] == (byte)IpFamily.V4)
            {
                RespondError(ref request, StunErrors.BadRequest);
                return false;
            }

            v4 = _options.PublicIPv4 is not null;
            v6 = _options.PublicIPv6 is not null;
            partialFailure = !v4 ? IpFamily.V4 : !v6 ? IpFamily.V6 : null;
            return true;
        }

        var wanted = IpFamily.V4;
        if (hasRequested)
        {
            if (requested.Length != 4)
            {
                RespondError(ref request, StunErrors.BadRequest);
                return false;
            }

            if (requested[0] is not ((byte)IpFamily.V4 or (byte)IpFamily.V6))
            {
                RespondError(ref request, StunErrors.AddressFamilyNotSupported);
                return false;
            }

            wanted = (IpFamily)requested[0];
        }

        if ((wanted == IpFamily.V4 ? _options.PublicIPv4 : _options.PublicIPv6) is null)
        {
            RespondError(ref request, StunErrors.AddressFamilyNotSupported);
            return false;
        }

        v4 = wanted == IpFamily.V4;
        v6 = !v4;
        return true;
    }

    /// <summary>
    /// RFC 8656 §7.2/§8.2: min(requested, maximum), but never below the default. On a Refresh, 0 means delete.
    /// A LIFETIME of the wrong size is a malformed request (400).
    /// </summary>
    private bool TryGetLifetime(ref Request request, bool refresh, out TimeSpan lifetime)
    {
        lifetime = _options.DefaultAllocationLifetime;
        if (!request.Message.TryGetAttribute(StunAttr.Lifetime, out ReadOnlySpan<byte> value))
        {
            return true;
        }

        if (value.Length != 4)
        {
            RespondError(ref request, StunErrors.BadRequest);
            return false;
        }

        uint requested = BinaryPrimitives.ReadUInt32BigEndian(value);
        if (refresh && requested == 0)
        {
            lifetime = TimeSpan.Zero;
            return true;
        }

        TimeSpan computed = TimeSpan.FromSeconds(Math.Min(requested, _options.MaxAllocationLifetime.TotalSeconds));
        lifetime = computed > _options.DefaultAllocationLifetime ? computed : _options.DefaultAllocationLifetime;
        return true;
    }

    private void CreateReservation(Allocation allocation, Instant now)
    {
        ulong token;
        do
        {
            token = _random.NextUInt64();
        }
        while (token == 0 || _reservations.ContainsKey(token));

        var family = allocation.RelaysV4 ? IpFamily.V4 : IpFamily.V6;
        var reservation = new Reservation(token, new AllocationPort((ushort)(allocation.Port.Value + 1)), family, now + _options.ReservationLifetime);
        _reservations.Add(token, reservation);
        _timers.Schedule(reservation);
        allocation.ReservationToken = token;
    }

    private void CancelReservation(Allocation allocation)
    {
        if (allocation.ReservationToken is { } token && _reservations.Remove(token, out Reservation? reservation))
        {
            _timers.Cancel(reservation);
            _ports.Release(reservation.Port.Value);
        }

        allocation.ReservationToken = null;
    }

    /// <summary>Queues the binds and then the success response; both are withdrawn if a bind fails.</summary>
    private void QueueAllocationSetup(Allocation allocation)
    {
        if (allocation.RelaysV4)
        {
            EnqueuePending(allocation, new CreateAllocation(allocation.Port, IpFamily.V4, allocation.DontFragment));
        }

        if (allocation.RelaysV6)
        {
            EnqueuePending(allocation, new CreateAllocation(allocation.Port, IpFamily.V6, allocation.DontFragment));
        }

        allocation.AllocateResponse = BuildAllocateResponse(allocation, 0);
        EnqueuePending(allocation, new SendToClient(allocation.Client, allocation.AllocateResponse, StunMethod.Allocate, 0));
    }

    /// <summary>The Allocate success (or, with <paramref name="errorCode"/>, an authenticated error) from the replay data.</summary>
    private byte[] BuildAllocateResponse(Allocation allocation, int errorCode)
    {
        AllocateReplay replay = allocation.Replay;
        var cls = errorCode == 0 ? StunClass.SuccessResponse : StunClass.ErrorResponse;
        var writer = new StunMessageWriter(_scratch, StunMethod.Allocate, cls, replay.TransactionId);
        AddSoftware(ref writer);
        if (errorCode != 0)
        {
            writer.AddErrorCode(errorCode, StunErrors.Reason(errorCode));
        }
        else
        {
            if (allocation.RelaysV4)
            {
                writer.AddXorAddress(StunAttr.XorRelayedAddress, new TransportAddress(_options.PublicIPv4!.Value, allocation.Port.Value));
            }

            if (allocation.RelaysV6)
            {
                writer.AddXorAddress(StunAttr.XorRelayedAddress, new TransportAddress(_options.PublicIPv6!.Value, allocation.Port.Value));
            }

            if (replay.PartialFailureFamily is { } family)
            {
                writer.AddAddressErrorCode(family, StunErrors.AddressFamilyNotSupported, StunErrors.Reason(StunErrors.AddressFamilyNotSupported));
            }

            writer.AddXorAddress(StunAttr.XorMappedAddress, allocation.Client.Address);
            writer.AddUInt32(StunAttr.Lifetime, replay.Lifetime);
            if (allocation.ReservationToken is { } token)
            {
                Span<byte> value = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(value, token);
                writer.AddAttribute(StunAttr.ReservationToken, value);
            }
        }

        writer.AddIntegrity(replay.IntegrityKind, allocation.Key);
        if (replay.Fingerprint)
        {
            writer.AddFingerprint();
        }

        return writer.Written.ToArray();
    }

    private void HandleRefresh(ref Request request)
    {
        Allocation? allocation = AuthenticateForAllocation(ref request);
        if (allocation is null)
        {
            return;
        }

        // Both families of a dual allocation share one lifetime; a family the allocation lacks is a mismatch.
        if (request.Message.TryGetAttribute(StunAttr.RequestedAddressFamily, out ReadOnlySpan<byte> family))
        {
            if (family.Length != 4 || family[0] is not ((byte)IpFamily.V4 or (byte)IpFamily.V6))
            {
                RespondError(ref request, StunErrors.BadRequest);
                return;
            }

            if (!allocation.Relays((IpFamily)family[0]))
            {
                RespondError(ref request, StunErrors.PeerAddressFamilyMismatch);
                return;
            }
        }

        if (!TryGetLifetime(ref request, refresh: true, out TimeSpan lifetime))
        {
            return;
        }

        if (lifetime == TimeSpan.Zero)
        {
            DeleteAllocation(allocation, DeletionReason.RefreshedToZero);
        }
        else
        {
            allocation.ExpiresAt = request.Now + lifetime;
            _timers.Schedule(allocation);
            Emit(new AllocationRefreshed(allocation.Id, allocation.Client, lifetime));
        }

        var writer = BeginResponse(request, StunClass.SuccessResponse);
        writer.AddUInt32(StunAttr.Lifetime, (uint)lifetime.TotalSeconds);
        Send(ref request, ref writer, 0);
    }

    /// <summary>
    /// Removes an allocation: every bound channel's <see cref="RemoveChannelBinding"/> first, then one
    /// <see cref="FreeAllocation"/> per family, then the port goes back to the pool.
    /// </summary>
    private void DeleteAllocation(Allocation allocation, DeletionReason reason)
    {
        if (allocation.Removed)
        {
            return;
        }

        _timers.Cancel(allocation);
        foreach (RelayCommand command in allocation.PendingCommands)
        {
            _pendingOwners.Remove(command); // still executed, in order: bind, then the free below
        }

        allocation.PendingCommands.Clear();
        foreach (Channel channel in allocation.ChannelsByNumber.Values)
        {
            if (channel.Bound)
            {
                Enqueue(new RemoveChannelBinding(allocation.Client, channel.Number, channel.Peer, allocation.Port));
                _boundChannels--;
            }

            _channelsByClient.Remove((allocation.Client, channel.Number.Value));
            _channelsByPeer.Remove((allocation.Port, channel.Peer));
            _timers.Cancel(channel);
        }

        foreach (Permission permission in allocation.Permissions.Values)
        {
            _timers.Cancel(permission);
            _permissions--;
        }

        allocation.ChannelsByNumber.Clear();
        allocation.ChannelsByPeer.Clear();
        allocation.Permissions.Clear();

        if (allocation.RelaysV4)
        {
            Enqueue(new FreeAllocation(allocation.Port, IpFamily.V4));
        }

        if (allocation.RelaysV6)
        {
            Enqueue(new FreeAllocation(allocation.Port, IpFamily.V6));
        }

        _ports.Release(allocation.Port.Value);
        _allocationsByClient.Remove(allocation.Client);
        _allocationsByPort.Remove(allocation.Port);
        _allocationsById.Remove(allocation.Id);
        if (_allocationsByUsername.TryGetValue(allocation.Username, out Allocation? current) && current == allocation)
        {
            _allocationsByUsername.Remove(allocation.Username);
        }

        int remaining = _allocationsPerUser.GetValueOrDefault(allocation.QuotaKey) - 1;
        if (remaining > 0)
        {
            _allocationsPerUser[allocation.QuotaKey] = remaining;
        }
        else
        {
            _allocationsPerUser.Remove(allocation.QuotaKey);
        }

        Emit(new AllocationDeleted(allocation.Id, allocation.Client, allocation.Port, reason));
    }

    /// <summary>
    /// The host could not bind <paramref name="port"/> for <paramref name="family"/> (another program holds it).
    /// If the Allocate response has not been taken yet, the allocation moves to another port and the response is
    /// rebuilt; otherwise (or after <see cref="MaxBindAttempts"/>) the allocation is deleted, with a 508 to the client
    /// when it has not had an answer. The port is skipped for <see cref="RelayServerOptions.PortQuarantine"/>.
    /// </summary>
    public void AllocationBindFailed(AllocationPort port, IpFamily family, Instant now)
    {
        if (!_allocationsByPort.TryGetValue(port, out Allocation? allocation))
        {
            return; // already gone
        }

        _ports.Quarantine(port.Value, now + _options.PortQuarantine);
        if (family == IpFamily.V4)
        {
            allocation.BoundV4 = false;
        }
        else
        {
            allocation.BoundV6 = false;
        }

        bool responsePending = allocation.PendingCommands.Exists(c => c is SendToClient);
        bool canMove = responsePending && !allocation.Replay.FromReservation && allocation.BindAttempts < MaxBindAttempts;
        Emit(new AllocationPortBindFailed(port, family, canMove));
        if (!canMove)
        {
            FailAllocation(allocation, responsePending, family);
            return;
        }

        allocation.BindAttempts++;
        WithdrawPending(allocation);
        if (allocation.BoundV4)
        {
            Enqueue(new FreeAllocation(port, IpFamily.V4));
        }

        if (allocation.BoundV6)
        {
            Enqueue(new FreeAllocation(port, IpFamily.V6));
        }

        allocation.BoundV4 = allocation.BoundV6 = false;
        CancelReservation(allocation);
        _allocationsByPort.Remove(port);
        _ports.Release(port.Value);

        if (!_ports.TryAcquire(allocation.Replay.EvenPort, allocation.Replay.ReservePair, now, out ushort next))
        {
            Emit(new PortsExhausted(allocation.Client));
            allocation.RelaysV4 = allocation.RelaysV6 = false; // nothing is bound any more
            _allocationsByPort[port] = allocation; // so that deletion finds its own index entries
            FailAllocation(allocation, respond: true, family);
            return;
        }

        allocation.Port = new AllocationPort(next);
        _allocationsByPort.Add(allocation.Port, allocation);
        if (allocation.Replay.ReservePair)
        {
            CreateReservation(allocation, now);
        }

        QueueAllocationSetup(allocation);
    }

    private void FailAllocation(Allocation allocation, bool respond, IpFamily failedFamily)
    {
        if (respond)
        {
            WithdrawPending(allocation);
            Enqueue(new SendToClient(allocation.Client, BuildAllocateResponse(allocation, StunErrors.InsufficientCapacity),
                StunMethod.Allocate, StunErrors.InsufficientCapacity));
        }

        if (failedFamily == IpFamily.V4)
        {
            allocation.RelaysV4 = false;
        }
        else
        {
            allocation.RelaysV6 = false;
        }

        DeleteAllocation(allocation, DeletionReason.BindFailed);
    }
}
