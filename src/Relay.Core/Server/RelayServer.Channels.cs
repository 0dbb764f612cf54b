using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

// CreatePermission (RFC 8656 §10), ChannelBind (§12.2) and the lifecycle of permissions and channels.
public sealed partial class RelayServer
{
    private const int MaxPeersPerCreatePermission = 32;

    private void HandleCreatePermission(ref Request request)
    {
        Allocation? allocation = AuthenticateForAllocation(ref request);
        if (allocation is null)
        {
            return;
        }

        Span<TransportAddress> peers = stackalloc TransportAddress[MaxPeersPerCreatePermission];
        int count = 0;
        foreach (StunAttribute attribute in request.Message.Attributes)
        {
            if (attribute.Type != StunAttr.XorPeerAddress)
            {
                continue;
            }

            if (count == peers.Length || !TryReadXorAddress(request.Message, attribute.Value, out peers[count]))
            {
                RespondError(ref request, StunErrors.BadRequest);
                return;
            }

            count++;
        }

        if (count == 0)
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        // All or nothing: one refused peer and no permission is installed.
        int added = 0;
        for (int i = 0; i < count; i++)
        {
            if (!CheckPeer(ref request, allocation, peers[i]))
            {
                return;
            }

            if (!allocation.Permissions.ContainsKey(peers[i].Address))
            {
                added++;
            }
        }

        if (allocation.Permissions.Count + added > _options.MaxPermissionsPerAllocation)
        {
            RespondError(ref request, StunErrors.InsufficientCapacity);
            return;
        }

        for (int i = 0; i < count; i++)
        {
            InstallPermission(allocation, peers[i].Address, request.Now + _options.PermissionLifetime);
        }

        var writer = BeginResponse(request, StunClass.SuccessResponse);
        Send(ref request, ref writer, 0);
    }

    /// <summary>443 when the allocation has no relayed address of the peer's family, 403 when policy refuses it.</summary>
    private bool CheckPeer(ref Request request, Allocation allocation, TransportAddress peer)
    {
        if (!allocation.Relays(peer.Family))
        {
            RespondError(ref request, StunErrors.PeerAddressFamilyMismatch);
            return false;
        }

        PeerDenial denial = _peerPolicy.Check(peer);
        if (denial != PeerDenial.None)
        {
            Counters.CountPeerRefused(denial);
            Emit(new PeerRefused(request.Client, peer, denial));
            RespondError(ref request, StunErrors.Forbidden);
            return false;
        }

        return true;
    }

    private void HandleChannelBind(ref Request request)
    {
        Allocation? allocation = AuthenticateForAllocation(ref request);
        if (allocation is null)
        {
            return;
        }

        StunMessage message = request.Message;
        if (!message.TryGetAttribute(StunAttr.ChannelNumber, out ReadOnlySpan<byte> numberValue) || numberValue.Length != 4
            || !message.TryGetAttribute(StunAttr.XorPeerAddress, out ReadOnlySpan<byte> peerValue)
            || !TryReadXorAddress(message, peerValue, out TransportAddress peerAddress))
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        ushort number = BinaryPrimitives.ReadUInt16BigEndian(numberValue);
        if (number < 0x4000 || number > _options.HighestChannelNumber)
        {
            Emit(new RequestRejected(request.Client, request.Method, StunErrors.BadRequest, Rejection.ChannelNumberOutOfRange, $"0x{number:X4}"));
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        if (!CheckPeer(ref request, allocation, peerAddress))
        {
            return;
        }

        var peer = new PeerSocket(peerAddress);
        allocation.ChannelsByNumber.TryGetValue(number, out Channel? byNumber);
        allocation.ChannelsByPeer.TryGetValue(peer, out Channel? byPeer);

        // A number or a peer may not be rebound to something else while bound or cooling down (RFC 8656 §12).
        if ((byNumber is not null && byNumber.Peer != peer) || (byPeer is not null && byPeer.Number.Value != number))
        {
            RespondError(ref request, StunErrors.BadRequest);
            return;
        }

        if (byNumber is null && allocation.ChannelsByNumber.Count >= _options.MaxChannelsPerAllocation)
        {
            RespondError(ref request, StunErrors.InsufficientCapacity);
            return;
        }

        Channel channel = byNumber ?? CreateChannel(allocation, new ChannelNumber(number), peer);
        bool refresh = byNumber is not null;
        channel.ExpiresAt = request.Now + _options.ChannelLifetime;
        if (!channel.Bound)
        {
            channel.Bound = true;
            _boundChannels++;
            Enqueue(new AddChannelBinding(allocation.Client, channel.Number, peer, allocation.Port)); // before the success
        }

        _timers.Schedule(channel);
        InstallPermission(allocation, peerAddress.Address, request.Now + _options.PermissionLifetime);
        Emit(new ChannelBound(allocation.Id, allocation.Client, channel.Number, peer, refresh));

        var writer = BeginResponse(request, StunClass.SuccessResponse);
        Send(ref request, ref writer, 0);
    }

    private Channel CreateChannel(Allocation allocation, ChannelNumber number, PeerSocket peer)
    {
        var channel = new Channel(allocation, number, peer) { Cooldown = _options.ChannelRebindCooldown };
        allocation.ChannelsByNumber.Add(number.Value, channel);
        allocation.ChannelsByPeer.Add(peer, channel);
        _channelsByClient.Add((allocation.Client, number.Value), channel);
        _channelsByPeer.Add((allocation.Port, peer), channel);
        return channel;
    }

    /// <summary>Installs a permission, or pushes an existing one's expiry out (never in).</summary>
    private void InstallPermission(Allocation allocation, IpAddr peer, Instant expiresAt)
    {
        if (allocation.Permissions.TryGetValue(peer, out Permission? permission))
        {
            permission.ExpiresAt = Instant.Max(permission.ExpiresAt, expiresAt);
            return;
        }

        permission = new Permission(allocation, peer, expiresAt);
        allocation.Permissions.Add(peer, permission);
        _permissions++;
        _timers.Schedule(permission);
        Emit(new PermissionCreated(allocation.Id, peer));
    }

    private void RemovePermission(Permission permission)
    {
        _timers.Cancel(permission);
        if (permission.Allocation.Permissions.Remove(permission.Peer))
        {
            _permissions--;
        }
    }

    /// <summary>A bound channel expires (its fast-path entries go), then after the cool-down it is forgotten.</summary>
    private void OnChannelDeadline(Channel channel)
    {
        Allocation allocation = channel.Allocation;
        if (channel.Bound)
        {
            channel.Bound = false;
            _boundChannels--;
            Enqueue(new RemoveChannelBinding(allocation.Client, channel.Number, channel.Peer, allocation.Port));
            Emit(new ChannelExpired(allocation.Id, allocation.Client, channel.Number, channel.Peer));
            _timers.Schedule(channel);
            return;
        }

        _timers.Cancel(channel);
        allocation.ChannelsByNumber.Remove(channel.Number.Value);
        allocation.ChannelsByPeer.Remove(channel.Peer);
        _channelsByClient.Remove((allocation.Client, channel.Number.Value));
        _channelsByPeer.Remove((allocation.Port, channel.Peer));
    }
}
