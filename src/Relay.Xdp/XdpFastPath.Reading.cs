using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Xdp.Maps;
using static Relay.Xdp.XdpEncoding;

namespace Relay.Xdp;

// What the fast path relayed, read from the kernel: per channel and allocation, per route, and the maps themselves.
public sealed unsafe partial class XdpFastPath
{
    private ChannelTraffic ReadLive(XdpBinding entry)
    {
        _program.ClientChannels.TryLookup(entry.ClientKey, out ClientChannelValue fromClient);
        _program.PeerBindings.TryLookup(entry.PeerKey, out PeerBindingValue toClient);
        return new ChannelTraffic(new TrafficCount((long)fromClient.Packets, (long)fromClient.Bytes), new TrafficCount((long)toClient.Packets, (long)toClient.Bytes));
    }

    public ChannelTraffic ReadChannel(AllocationPort port, ChannelNumber channel)
    {
        lock (_gate)
        {
            ChannelTraffic sum = _retiredByPort.TryGetValue(port.Value, out var retired) ? retired.GetValueOrDefault(channel.Value) : default;
            return Find(port, channel) is { } entry ? sum + ReadLive(entry) : sum;
        }
    }

    public ChannelTraffic ReadAllocation(AllocationPort port)
    {
        lock (_gate)
        {
            ChannelTraffic sum = default;
            if (_retiredByPort.TryGetValue(port.Value, out var retired))
            {
                foreach (ChannelTraffic traffic in retired.Values)
                {
                    sum += traffic;
                }
            }

            if (_bindingsByPort.TryGetValue(port.Value, out var channels))
            {
                foreach (XdpBinding entry in channels.Values)
                {
                    sum += ReadLive(entry);
                }
            }

            return sum;
        }
    }

    public long ReadOverBandwidth(AllocationPort port) =>
        _program.PortBudgets.TryLookup(port.Value, out PortBudget budget) ? (long)budget.OverBandwidth : 0;

    public FastPathCounters ReadCounters()
    {
        XdpCounters total = SumStats();
        var passed = new List<KeyValuePair<string, long>>(XdpConstants.PassReasons);
        foreach (XdpPassReason reason in Enum.GetValues<XdpPassReason>())
        {
            passed.Add(KeyValuePair.Create(Snake(reason.ToString()), (long)total.Passed[(int)reason]));
        }

        var dropped = new List<KeyValuePair<string, long>>(XdpConstants.DropReasons);
        foreach (XdpDropReason reason in Enum.GetValues<XdpDropReason>())
        {
            dropped.Add(KeyValuePair.Create(Snake(reason.ToString()), (long)total.Dropped[(int)reason]));
        }

        var counters = new FastPathCounters(passed, dropped);
        foreach (IpFamily first in (IpFamily[])[IpFamily.V4, IpFamily.V6])
        {
            foreach (IpFamily second in (IpFamily[])[IpFamily.V4, IpFamily.V6])
            {
                int route = RouteIndex(first, second);
                for (int direction = 0; direction < XdpConstants.Directions; direction++)
                {
                    int index = (direction * XdpConstants.Routes) + route;
                    counters.SetRelayed((RelayDirection)direction, first, second, new TrafficCount((long)total.RelayedPackets[index], (long)total.RelayedBytes[index]));
                }

                counters.SetHairpin(first, second, new TrafficCount((long)total.HairpinPackets[route], (long)total.HairpinBytes[route]));
            }
        }

        return counters;
    }

    /// <summary>The per-CPU counters added up.</summary>
    public XdpCounters SumStats()
    {
        var total = new XdpCounters();
        foreach (RelayStats cpu in _program.Stats.Read(0))
        {
            RelayStats one = cpu;
            AddPairs(total.RelayedPackets, total.RelayedBytes, one.Relayed);
            AddPairs(total.HairpinPackets, total.HairpinBytes, one.Hairpin);
            Add(total.Passed, one.Passed);
            Add(total.Dropped, one.Dropped);
        }

        return total;

        static void Add(ulong[] sum, ulong* values)
        {
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += values[i];
            }
        }

        static void AddPairs(ulong[] packets, ulong[] bytes, ulong* pairs)
        {
            for (int i = 0; i < packets.Length; i++)
            {
                packets[i] += pairs[2 * i];
                bytes[i] += pairs[(2 * i) + 1];
            }
        }
    }

    /// <summary>Bindings offloaded now.</summary>
    public int BindingCount
    {
        get
        {
            lock (_gate)
            {
                int count = 0;
                foreach (var channels in _bindingsByPort.Values)
                {
                    count += channels.Count;
                }

                return count;
            }
        }
    }

    /// <summary>The entries of client_channels or peer_bindings as the kernel holds them, decoded.</summary>
    public IReadOnlyList<XdpBindingEntry> ReadBindings(string map)
    {
        var entries = new List<XdpBindingEntry>();
        if (map == _program.ClientChannels.Name)
        {
            foreach (ClientChannelKey key in _program.ClientChannels.Keys())
            {
                if (_program.ClientChannels.TryLookup(key, out ClientChannelValue value))
                {
                    ClientChannelKey k = key;
                    entries.Add(new XdpBindingEntry(map,
                        new TransportAddress(ReadAddress(k.ClientAddr), NetworkOrder(k.ClientPort)), new ChannelNumber(NetworkOrder(k.Channel)),
                        new TransportAddress(ReadAddress(value.PeerAddr), NetworkOrder(value.PeerPort)), new AllocationPort(NetworkOrder(value.AllocationPort)),
                        (long)value.Packets, (long)value.Bytes));
                }
            }
        }
        else if (map == _program.PeerBindings.Name)
        {
            foreach (PeerBindingKey key in _program.PeerBindings.Keys())
            {
                if (_program.PeerBindings.TryLookup(key, out PeerBindingValue value))
                {
                    PeerBindingKey k = key;
                    entries.Add(new XdpBindingEntry(map,
                        new TransportAddress(ReadAddress(value.ClientAddr), NetworkOrder(value.ClientPort)), new ChannelNumber(NetworkOrder(value.Channel)),
                        new TransportAddress(ReadAddress(k.PeerAddr), NetworkOrder(k.PeerPort)), new AllocationPort(NetworkOrder(k.AllocationPort)),
                        (long)value.Packets, (long)value.Bytes));
                }
            }
        }
        else
        {
            throw new ArgumentException($"no binding map named {map}", nameof(map));
        }

        return entries;
    }

    /// <summary>The allocation ports live_ports marks, with the families bound on each, as the kernel holds them.</summary>
    public IReadOnlyList<(AllocationPort Port, bool V4, bool V6)> ReadLivePorts()
    {
        var ports = new List<(AllocationPort, bool, bool)>();
        for (uint port = Options.LowestPort; port <= Options.HighestPort; port++)
        {
            if (_program.LivePorts.TryLookup(port, out uint families) && families != 0)
            {
                ports.Add((new AllocationPort((ushort)port), (families & XdpConstants.LiveV4) != 0, (families & XdpConstants.LiveV6) != 0));
            }
        }

        return ports;
    }

    /// <summary>The program's kernel id and run statistics (counted only while kernel.bpf_stats_enabled is 1).</summary>
    public XdpProgramStats ReadProgramStats()
    {
        var (id, runs, nanoseconds) = _program.Info();
        bool enabled = File.Exists(StatsSwitch) && File.ReadAllText(StatsSwitch).Trim() == "1";
        return new XdpProgramStats(id, enabled, (long)runs, (long)nanoseconds);
    }

    private const string StatsSwitch = "/proc/sys/kernel/bpf_stats_enabled";
}

/// <summary>One entry of a binding map, decoded: both maps describe a client's channel to a peer on an allocation.</summary>
public sealed record XdpBindingEntry(string Map, TransportAddress Client, ChannelNumber Channel, TransportAddress Peer, AllocationPort AllocationPort, long Packets, long Bytes);

/// <summary>The kernel's view of the program: its id, and run count and time while bpf stats are enabled.</summary>
public sealed record XdpProgramStats(uint Id, bool StatsEnabled, long RunCount, long RunTimeNs);
