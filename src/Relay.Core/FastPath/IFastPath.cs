using Relay.Core.Net;
using Relay.Core.Server;

namespace Relay.Core.FastPath;

/// <summary>
/// A data path that relays bound channels without the engine (the XDP program). The host's data-plane thread tells
/// it, in command order, which allocation ports are live and which channels are bound; packets it relays never
/// reach the engine, so it keeps its own counters and the host adds them to what the engine counted. Calls that
/// change state come only from the data-plane thread; the Read methods may be called from any thread.
/// </summary>
public interface IFastPath : IDisposable
{
    /// <summary>The <c>relay.datapath</c> label of the traffic it relays ("xdp"); "none" when nothing is offloaded.</summary>
    string Name { get; }

    bool Enabled { get; }

    /// <summary>The allocation's relay socket is bound on <paramref name="port"/> for <paramref name="family"/>.</summary>
    void AllocationBound(AllocationPort port, IpFamily family);

    /// <summary>The socket was closed; forgets the port's counters once no family of it is bound.</summary>
    void AllocationFreed(AllocationPort port, IpFamily family);

    /// <summary>Installs both directions of a channel. Returns once packets on it can be relayed.</summary>
    void ChannelBound(AddChannelBinding binding);

    /// <summary>Removes both directions; what the channel carried stays counted for its allocation.</summary>
    void ChannelUnbound(RemoveChannelBinding binding);

    /// <summary>Totals by route and direction since start.</summary>
    FastPathCounters ReadCounters();

    /// <summary>What the fast path relayed on one channel number of an allocation (bound now or earlier).</summary>
    ChannelTraffic ReadChannel(AllocationPort port, ChannelNumber channel);

    /// <summary>What the fast path relayed for the allocation on <paramref name="port"/>.</summary>
    ChannelTraffic ReadAllocation(AllocationPort port);

    /// <summary>Packets of the allocation on <paramref name="port"/> the fast path dropped for its bandwidth cap.</summary>
    long ReadOverBandwidth(AllocationPort port);
}

/// <summary>Packets and payload bytes.</summary>
public readonly record struct TrafficCount(long Packets, long Bytes)
{
    public static TrafficCount operator +(TrafficCount left, TrafficCount right) => new(left.Packets + right.Packets, left.Bytes + right.Bytes);
}

/// <summary>Traffic each way: from the client to its peers, and from peers to the client.</summary>
public readonly record struct ChannelTraffic(TrafficCount FromClient, TrafficCount ToClient)
{
    public static ChannelTraffic operator +(ChannelTraffic left, ChannelTraffic right) =>
        new(left.FromClient + right.FromClient, left.ToClient + right.ToClient);
}

/// <summary>
/// A fast path's totals. Relayed traffic is indexed like <see cref="RelayCounters"/>: direction, client family,
/// peer family. Hairpin traffic (from one client of the relay to another) is also counted in both directions.
/// </summary>
public sealed class FastPathCounters
{
    private readonly TrafficCount[] _relayed = new TrafficCount[8];
    private readonly TrafficCount[] _hairpin = new TrafficCount[4];

    public static FastPathCounters Empty { get; } = new([], []);

    public FastPathCounters(IReadOnlyList<KeyValuePair<string, long>> passed, IReadOnlyList<KeyValuePair<string, long>> dropped)
    {
        Passed = passed;
        Dropped = dropped;
    }

    /// <summary>Packets handed to the kernel's stack untouched, by reason (snake_case).</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Passed { get; }

    /// <summary>Packets dropped, by reason (snake_case).</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Dropped { get; }

    public TrafficCount Relayed(RelayDirection direction, IpFamily client, IpFamily peer) => _relayed[Index(direction, client, peer)];

    /// <summary>Hairpin traffic by the sending and the receiving client's family.</summary>
    public TrafficCount Hairpin(IpFamily sender, IpFamily receiver) => _hairpin[RouteIndex(sender, receiver)];

    public TrafficCount Total()
    {
        TrafficCount sum = default;
        foreach (TrafficCount count in _relayed)
        {
            sum += count;
        }

        return sum;
    }

    public void SetRelayed(RelayDirection direction, IpFamily client, IpFamily peer, TrafficCount count) => _relayed[Index(direction, client, peer)] = count;

    public void SetHairpin(IpFamily sender, IpFamily receiver, TrafficCount count) => _hairpin[RouteIndex(sender, receiver)] = count;

    private static int RouteIndex(IpFamily first, IpFamily second) => (first == IpFamily.V4 ? 0 : 2) + (second == IpFamily.V4 ? 0 : 1);

    private static int Index(RelayDirection direction, IpFamily client, IpFamily peer) => ((int)direction * 4) + RouteIndex(client, peer);
}

/// <summary>No fast path: the engine relays everything.</summary>
public sealed class NullFastPath : IFastPath
{
    public static NullFastPath Instance { get; } = new();

    public string Name => "none";

    public bool Enabled => false;

    public void AllocationBound(AllocationPort port, IpFamily family)
    {
    }

    public void AllocationFreed(AllocationPort port, IpFamily family)
    {
    }

    public void ChannelBound(AddChannelBinding binding)
    {
    }

    public void ChannelUnbound(RemoveChannelBinding binding)
    {
    }

    public FastPathCounters ReadCounters() => FastPathCounters.Empty;

    public ChannelTraffic ReadChannel(AllocationPort port, ChannelNumber channel) => default;

    public ChannelTraffic ReadAllocation(AllocationPort port) => default;

    public long ReadOverBandwidth(AllocationPort port) => 0;

    public void Dispose()
    {
    }
}
