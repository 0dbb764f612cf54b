using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Xdp.Maps;
using Relay.Xdp.Native;

namespace Relay.Xdp;

/// <summary>
/// The XDP fast path: relay_xdp attached to one interface, fed with the engine's channel bindings and live
/// allocation ports. State changes arrive on the data-plane thread in command order, so a ChannelBind's entries
/// are in the maps before its success response is sent. The bookkeeping here (which entries exist, what removed
/// channels carried) is shared with admin and metrics readers under one lock; no packet ever takes it.
/// </summary>
public sealed unsafe partial class XdpFastPath : IFastPath
{
    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    private readonly XdpProgram _program;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly byte[] _liveFamilies = new byte[65536];
    private readonly Dictionary<ushort, Dictionary<ushort, Binding>> _bindingsByPort = new();
    private readonly Dictionary<ushort, Dictionary<ushort, ChannelTraffic>> _retiredByPort = new();
    private readonly List<Binding> _awaitingFirstTraffic = new();
    private readonly Timer _watch;
    private RelayConfig _config;
    private long _bindingFailures;
    private int _disposed;

    private XdpFastPath(XdpProgram program, XdpOptions options, XdpInterface nic, RelayConfig config, ILogger logger)
    {
        _program = program;
        _config = config;
        _logger = logger;
        Options = options;
        Interface = nic;
        _watch = new Timer(_ => Watch(), null, WatchInterval, WatchInterval);
    }

    public string Name => "xdp";

    public bool Enabled => true;

    public XdpOptions Options { get; }

    public XdpInterface Interface { get; }

    /// <summary>Source address of IPv6-to-IPv4 translations, if the interface has one.</summary>
    public IPAddress? SourceV4 { get; private init; }

    /// <summary>Source address of IPv4-to-IPv6 translations, if the interface has one.</summary>
    public IPAddress? SourceV6 { get; private init; }

    /// <summary>The MTU the program checks packets against (the interface's, followed once a second).</summary>
    public int Mtu
    {
        get
        {
            lock (_gate)
            {
                return _config.Mtu;
            }
        }
    }

    /// <summary>Bindings the maps refused (full), which userspace relays instead.</summary>
    public long BindingFailures => Interlocked.Read(ref _bindingFailures);

    internal XdpProgram Program => _program;

    /// <summary>
    /// Loads relay_xdp, writes its configuration and attaches it. Throws <see cref="XdpException"/> with a message for
    /// the operator; on any failure nothing stays attached.
    /// </summary>
    public static XdpFastPath Start(XdpOptions options, ILogger logger)
    {
        XdpInterface nic = XdpInterface.Describe(options.Interface);
        XdpProgram program = XdpProgram.Load(options.ObjectPath);
        try
        {
            XdpFastPath fastPath = Create(program, options, nic, logger);
            program.Attach(nic.Index, nic.Name, options.AttachMode);
            LogAttached(logger, nic.Name, options.AttachMode.ToString().ToLowerInvariant(), program.Info().Id, nic.Mtu);
            LogSource(logger, "IPv4", fastPath.SourceV4?.ToString() ?? "none", options.InterfaceV4 is null ? $"the address of {nic.Name}" : "--ebpf-int4-addr");
            LogSource(logger, "IPv6", fastPath.SourceV6?.ToString() ?? "none", options.InterfaceV6 is null ? $"the address of {nic.Name}" : "--ebpf-int6-addr");
            return fastPath;
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    /// <summary>Configures a loaded program for <paramref name="nic"/> without attaching it (tests run it with BPF_PROG_TEST_RUN).</summary>
    internal static XdpFastPath Create(XdpProgram program, XdpOptions options, XdpInterface nic, ILogger logger)
    {
        IPAddress? sourceV4 = ChooseSource(options.InterfaceV4, nic.V4, options.PublicV4, nic.Name, "--ebpf-int4-addr", "IPv4");
        IPAddress? sourceV6 = ChooseSource(options.InterfaceV6, nic.V6, options.PublicV6, nic.Name, "--ebpf-int6-addr", "IPv6");
        RelayConfig config = BuildConfig(options, nic.Mtu, sourceV4, sourceV6);
        if (program.Config.Update(0, config) != 0)
        {
            throw new XdpException("cannot write the XDP program's configuration map");
        }

        return new XdpFastPath(program, options, nic, config, logger) { SourceV4 = sourceV4, SourceV6 = sourceV6 };
    }

    /// <summary>
    /// The address a translation into this family is sent from: the flag's, else the interface's (preferring the
    /// public address when the interface holds it). A relay that offers the family must have one.
    /// </summary>
    private static IPAddress? ChooseSource(IPAddress? configured, IReadOnlyList<IPAddress> onInterface, IPAddress? publicAddress, string nic, string flag, string family)
    {
        if (configured is not null)
        {
            return configured;
        }

        if (publicAddress is not null && onInterface.Contains(publicAddress))
        {
            return publicAddress;
        }

        if (onInterface.Count > 0)
        {
            return onInterface[0];
        }

        if (publicAddress is not null)
        {
            throw new XdpException($"the relay offers {family} (public address {publicAddress}) but {nic} has no {family} address to send it from: add one to {nic} or set {flag}");
        }

        return null;
    }

    private static RelayConfig BuildConfig(XdpOptions options, int mtu, IPAddress? sourceV4, IPAddress? sourceV6)
    {
        var config = new RelayConfig
        {
            ListenPort = options.ListenPort,
            LowestPort = options.LowestPort,
            HighestPort = options.HighestPort,
            Mtu = (ushort)Math.Clamp(mtu, 68, ushort.MaxValue),
        };
        if (options.PublicV4 is { } publicV4)
        {
            publicV4.TryWriteBytes(new Span<byte>(config.PublicV4, 4), out _);
            config.Flags |= XdpConstants.ConfigPublicV4;
        }

        if (options.PublicV6 is { } publicV6)
        {
            publicV6.TryWriteBytes(new Span<byte>(config.PublicV6, 16), out _);
            config.Flags |= XdpConstants.ConfigPublicV6;
        }

        if (sourceV4 is not null)
        {
            sourceV4.TryWriteBytes(new Span<byte>(config.InterfaceV4, 4), out _);
            config.Flags |= XdpConstants.ConfigInterfaceV4;
        }

        if (sourceV6 is not null)
        {
            sourceV6.TryWriteBytes(new Span<byte>(config.InterfaceV6, 16), out _);
            config.Flags |= XdpConstants.ConfigInterfaceV6;
        }

        return config;
    }

    public void AllocationBound(AllocationPort port, IpFamily family)
    {
        lock (_gate)
        {
            if (_disposed != 0)
            {
                return;
            }

            _liveFamilies[port.Value] |= (byte)(family == IpFamily.V4 ? XdpConstants.LiveV4 : XdpConstants.LiveV6);
            _program.LivePorts.Update(port.Value, _liveFamilies[port.Value]);
        }
    }

    public void AllocationFreed(AllocationPort port, IpFamily family)
    {
        lock (_gate)
        {
            if (_disposed != 0)
            {
                return;
            }

            _liveFamilies[port.Value] &= (byte)~(family == IpFamily.V4 ? XdpConstants.LiveV4 : XdpConstants.LiveV6);
            _program.LivePorts.Update(port.Value, _liveFamilies[port.Value]);
            if (_liveFamilies[port.Value] == 0)
            {
                _retiredByPort.Remove(port.Value); // the port may go to another allocation next
            }
        }
    }

    public void ChannelBound(AddChannelBinding binding)
    {
        // A V6 socket address that is IPv4-mapped would alias an IPv4 key in the maps: leave it to userspace.
        if (IsMappedV6(binding.Client.Address.Address) || IsMappedV6(binding.Peer.Address.Address))
        {
            LogNotOffloaded(_logger, binding.Client.ToString(), binding.Channel.ToString(), "an IPv6 socket address holds an IPv4-mapped address");
            return;
        }

        var entry = new Binding(binding.Client, binding.Channel, binding.Peer, binding.Port);
        lock (_gate)
        {
            if (_disposed != 0)
            {
                return;
            }

            if (Find(binding.Port, binding.Channel) is { } stale)
            {
                RemoveEntries(stale); // never with a correct engine; keeps the maps exact if it happened
            }

            var clientValue = new ClientChannelValue
            {
                PeerPort = NetworkOrder(binding.Peer.Address.Port),
                AllocationPort = NetworkOrder(binding.Port.Value),
                PeerFamily = FamilyCode(binding.Peer.Family),
            };
            WriteAddress(clientValue.PeerAddr, binding.Peer.Address.Address);
            var peerValue = new PeerBindingValue
            {
                ClientPort = NetworkOrder(binding.Client.Address.Port),
                Channel = NetworkOrder(binding.Channel.Value),
                ClientFamily = FamilyCode(binding.Client.Family),
            };
            WriteAddress(peerValue.ClientAddr, binding.Client.Address.Address);

            int error = _program.ClientChannels.Update(entry.ClientKey, clientValue);
            if (error == 0 && (error = _program.PeerBindings.Update(entry.PeerKey, peerValue)) != 0)
            {
                _program.ClientChannels.Delete(entry.ClientKey);
            }

            if (error != 0)
            {
                long failures = Interlocked.Increment(ref _bindingFailures);
                if (failures <= 10 || failures % 1000 == 0)
                {
                    LogBindingRefused(_logger, binding.Client.ToString(), binding.Channel.ToString(), LibBpf.ErrorText(error), failures);
                }

                return;
            }

            if (!_bindingsByPort.TryGetValue(binding.Port.Value, out var channels))
            {
                _bindingsByPort[binding.Port.Value] = channels = new Dictionary<ushort, Binding>();
            }

            channels[binding.Channel.Value] = entry;
            if (entry.CrossFamily)
            {
                _awaitingFirstTraffic.Add(entry);
            }
        }

        LogBindingAdded(_logger, entry.Route, binding.Port.Value, binding.Channel.ToString(), binding.Client.ToString(), binding.Peer.ToString());
    }

    public void ChannelUnbound(RemoveChannelBinding binding)
    {
        lock (_gate)
        {
            if (_disposed != 0 || Find(binding.Port, binding.Channel) is not { } entry)
            {
                return; // never offloaded, or shutting down
            }

            RemoveEntries(entry);
        }

        LogBindingRemoved(_logger, binding.Port.Value, binding.Channel.ToString(), binding.Client.ToString(), binding.Peer.ToString());
    }

    /// <summary>Deletes both map entries, keeping what they carried. Caller holds the lock.</summary>
    private void RemoveEntries(Binding entry)
    {
        ChannelTraffic carried = ReadLive(entry);
        _program.ClientChannels.Delete(entry.ClientKey);
        _program.PeerBindings.Delete(entry.PeerKey);
        _bindingsByPort[entry.Port.Value].Remove(entry.Channel.Value);
        if (_bindingsByPort[entry.Port.Value].Count == 0)
        {
            _bindingsByPort.Remove(entry.Port.Value);
        }

        _awaitingFirstTraffic.Remove(entry);
        if (!_retiredByPort.TryGetValue(entry.Port.Value, out var retired))
        {
            _retiredByPort[entry.Port.Value] = retired = new Dictionary<ushort, ChannelTraffic>();
        }

        retired[entry.Channel.Value] = retired.GetValueOrDefault(entry.Channel.Value) + carried;
    }

    private Binding? Find(AllocationPort port, ChannelNumber channel) =>
        _bindingsByPort.TryGetValue(port.Value, out var channels) && channels.TryGetValue(channel.Value, out Binding? entry) ? entry : null;

    private ChannelTraffic ReadLive(Binding entry)
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
                foreach (Binding entry in channels.Values)
                {
                    sum += ReadLive(entry);
                }
            }

            return sum;
        }
    }

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

    /// <summary>
    /// Once a second: announces cross-family bindings that carried their first packet through XDP (the path the
    /// reference first only logged), and follows MTU changes of the interface.
    /// </summary>
    private void Watch()
    {
        try
        {
            lock (_gate)
            {
                for (int i = _awaitingFirstTraffic.Count - 1; i >= 0; i--)
                {
                    Binding entry = _awaitingFirstTraffic[i];
                    ChannelTraffic traffic = ReadLive(entry);
                    if (traffic.FromClient.Packets + traffic.ToClient.Packets > 0)
                    {
                        _awaitingFirstTraffic.RemoveAt(i);
                        LogCrossFamilyTraffic(_logger, entry.Route, entry.Port.Value, entry.Channel.ToString(), entry.Client.ToString(), entry.Peer.ToString(),
                            traffic.FromClient.Packets > 0 ? "client to peer" : "peer to client");
                    }
                }

                if (LibBpf.InterfaceMtu(Interface.Name) is { } mtu && mtu != _config.Mtu && mtu is >= 68 and <= ushort.MaxValue)
                {
                    RelayConfig updated = _config;
                    updated.Mtu = (ushort)mtu;
                    if (_program.Config.Update(0, updated) == 0)
                    {
                        LogMtuChanged(_logger, Interface.Name, _config.Mtu, mtu);
                        _config = updated;
                    }
                }
            }
        }
        catch (Exception exception)
        {
            LogWatchFailed(_logger, exception);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var stopped = new ManualResetEvent(false))
        {
            if (_watch.Dispose(stopped))
            {
                stopped.WaitOne(TimeSpan.FromSeconds(5));
            }
        }

        lock (_gate)
        {
            _program.Dispose(); // closing the link detaches the program
        }

        LogDetached(_logger, Interface.Name);
    }

    internal static int RouteIndex(IpFamily first, IpFamily second) => (first == IpFamily.V4 ? 0 : 2) + (second == IpFamily.V4 ? 0 : 1);

    internal static ushort NetworkOrder(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    internal static byte FamilyCode(IpFamily family) => family == IpFamily.V4 ? XdpConstants.FamilyV4 : XdpConstants.FamilyV6;

    internal static void WriteAddress(byte* destination, IpAddr address)
    {
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(destination, 8), address.High);
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(destination + 8, 8), address.Low);
    }

    /// <summary>Reads a 16-byte key address back: IPv4-mapped means IPv4.</summary>
    internal static IpAddr ReadAddress(byte* source)
    {
        ulong high = BinaryPrimitives.ReadUInt64BigEndian(new ReadOnlySpan<byte>(source, 8));
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(new ReadOnlySpan<byte>(source + 8, 8));
        return high == 0 && (low >> 32) == 0xFFFF ? IpAddr.FromV4((uint)low) : IpAddr.FromV6(high, low);
    }

    private static bool IsMappedV6(IpAddr address) => !address.IsV4 && address.High == 0 && (address.Low >> 32) == 0xFFFF;

    /// <summary>"HairpinNoBinding" becomes "hairpin_no_binding".</summary>
    internal static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>One offloaded channel and its two map keys.</summary>
    private sealed class Binding
    {
        public Binding(ClientSocket client, ChannelNumber channel, PeerSocket peer, AllocationPort port)
        {
            Client = client;
            Channel = channel;
            Peer = peer;
            Port = port;
            var clientKey = new ClientChannelKey { ClientPort = NetworkOrder(client.Address.Port), Channel = NetworkOrder(channel.Value) };
            WriteAddress(clientKey.ClientAddr, client.Address.Address);
            ClientKey = clientKey;
            var peerKey = new PeerBindingKey { PeerPort = NetworkOrder(peer.Address.Port), AllocationPort = NetworkOrder(port.Value) };
            WriteAddress(peerKey.PeerAddr, peer.Address.Address);
            PeerKey = peerKey;
        }

        public ClientSocket Client { get; }

        public ChannelNumber Channel { get; }

        public PeerSocket Peer { get; }

        public AllocationPort Port { get; }

        public ClientChannelKey ClientKey { get; }

        public PeerBindingKey PeerKey { get; }

        public bool CrossFamily => Client.Family != Peer.Family;

        public string Route => RelayCounters.RouteName(Client.Family, Peer.Family);
    }
}

/// <summary>One entry of a binding map, decoded: both maps describe a client's channel to a peer on an allocation.</summary>
public sealed record XdpBindingEntry(string Map, TransportAddress Client, ChannelNumber Channel, TransportAddress Peer, AllocationPort AllocationPort, long Packets, long Bytes);

/// <summary>The kernel's view of the program: its id, and run count and time while bpf stats are enabled.</summary>
public sealed record XdpProgramStats(uint Id, bool StatsEnabled, long RunCount, long RunTimeNs);
