namespace Relay.Core.Server;

// Self-checks of the engine's indexes, for property tests and debugging. Not on any packet path.
public sealed partial class RelayServer
{
    /// <summary>Entries in the timer heap, live or stale (bounded by twice the live objects).</summary>
    internal int TimerEntries => _timers.Count;

    /// <summary>Describes every way the engine's indexes disagree with each other (empty when consistent).</summary>
    internal List<string> FindInconsistencies()
    {
        var problems = new List<string>();
        int bound = 0, permissions = 0;
        var ports = new HashSet<ushort>();
        foreach (Allocation allocation in _allocationsById.Values)
        {
            if (allocation.Removed)
            {
                problems.Add($"allocation {allocation.Id} is removed but indexed");
            }

            if (!ports.Add(allocation.Port.Value) || !_ports.IsHeld(allocation.Port.Value))
            {
                problems.Add($"port {allocation.Port} of {allocation.Id} is shared or not held");
            }

            if (!_allocationsByClient.TryGetValue(allocation.Client, out var byClient) || byClient != allocation
                || !_allocationsByPort.TryGetValue(allocation.Port, out var byPort) || byPort != allocation)
            {
                problems.Add($"allocation {allocation.Id} is missing from an index");
            }

            if (!allocation.RelaysV4 && !allocation.RelaysV6)
            {
                problems.Add($"allocation {allocation.Id} relays no family");
            }

            foreach (Channel channel in allocation.ChannelsByNumber.Values)
            {
                bound += channel.Bound ? 1 : 0;
                if (channel.Allocation != allocation || channel.Removed
                    || !_channelsByClient.TryGetValue((allocation.Client, channel.Number.Value), out var c1) || c1 != channel
                    || !_channelsByPeer.TryGetValue((allocation.Port, channel.Peer), out var c2) || c2 != channel
                    || !allocation.ChannelsByPeer.TryGetValue(channel.Peer, out var c3) || c3 != channel)
                {
                    problems.Add($"channel {channel.Number} of {allocation.Id} is inconsistently indexed");
                }
            }

            permissions += allocation.Permissions.Count;
        }

        if (_allocationsByClient.Count != _allocationsById.Count || _allocationsByPort.Count != _allocationsById.Count)
        {
            problems.Add("allocation index sizes differ");
        }

        foreach (var ((client, number), channel) in _channelsByClient)
        {
            if (!_allocationsById.ContainsKey(channel.Allocation.Id) || channel.Allocation.Client != client || channel.Number.Value != number)
            {
                problems.Add($"channel {number} of {client} belongs to no live allocation");
            }
        }

        if (_channelsByPeer.Count != _channelsByClient.Count)
        {
            problems.Add("channel index sizes differ");
        }

        if (bound != _boundChannels || permissions != _permissions)
        {
            problems.Add($"counts drifted: bound {bound} vs {_boundChannels}, permissions {permissions} vs {_permissions}");
        }

        int reserved = 0;
        foreach (Reservation reservation in _reservations.Values)
        {
            reserved++;
            if (!_ports.IsHeld(reservation.Port.Value) || ports.Contains(reservation.Port.Value))
            {
                problems.Add($"reserved port {reservation.Port} is not held or also allocated");
            }
        }

        if (_ports.HeldCount != ports.Count + reserved)
        {
            problems.Add($"port pool holds {_ports.HeldCount} but {ports.Count} allocations and {reserved} reservations exist");
        }

        return problems;
    }
}
