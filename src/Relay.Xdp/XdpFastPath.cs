using System.Net;
using Microsoft.Extensions.Logging;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Server;
using Relay.Xdp.Maps;
using Relay.Xdp.Native;
using static Relay.Xdp.XdpEncoding;

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
    private readonly Dictionary<ushort, Dictionary<ushort, XdpBinding>> _bindingsByPort = new();
    private readonly Dictionary<ushort, Dictionary<ushort, ChannelTraffic>> _retiredByPort = new();
    private readonly List<XdpBinding> _awaitingFirstTraffic = new();
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
            MaxBps = (ulong)options.MaxBytesPerSecondPerAllocation,
        };
        if (config.MaxBps > 0)
        {
            // The same bucket as userspace's ByteBudget, expressed in time at the cap's rate.
            double nsPerByte = (double)XdpConstants.NsPerSecond / config.MaxBps;
            config.BurstNs = (ulong)(Math.Max(options.MaxBytesPerSecondPerAllocation, ByteBudget.MinimumBurstBytes) * nsPerByte);
            config.NsPerByteQ16 = (ulong)Math.Round(nsPerByte * 65536);
        }

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

            if (_liveFamilies[port.Value] == 0)
            {
                _program.PortBudgets.Update(port.Value, default); // a new allocation starts with full buckets
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
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                LogNotOffloaded(_logger, binding.Client.ToString(), binding.Channel.ToString(), "an IPv6 socket address holds an IPv4-mapped address");
            }
            return;
        }

        var entry = new XdpBinding(binding.Client, binding.Channel, binding.Peer, binding.Port);
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
                _bindingsByPort[binding.Port.Value] = channels = new Dictionary<ushort, XdpBinding>();
            }

            channels[binding.Channel.Value] = entry;
            if (entry.CrossFamily)
            {
                _awaitingFirstTraffic.Add(entry);
            }
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogBindingAdded(_logger, entry.Route, binding.Port.Value, binding.Channel.ToString(), binding.Client.ToString(), binding.Peer.ToString());
        }
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

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogBindingRemoved(_logger, binding.Port.Value, binding.Channel.ToString(), binding.Client.ToString(), binding.Peer.ToString());
        }
    }

    /// <summary>Deletes both map entries, keeping what they carried. Caller holds the lock.</summary>
    private void RemoveEntries(XdpBinding entry)
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

    private XdpBinding? Find(AllocationPort port, ChannelNumber channel) =>
        _bindingsByPort.TryGetValue(port.Value, out var channels) && channels.TryGetValue(channel.Value, out XdpBinding? entry) ? entry : null;

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

}
