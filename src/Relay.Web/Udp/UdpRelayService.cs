using System.Net;
using System.Net.Sockets;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Randomness;
using Relay.Core.Server;
using Relay.Web.Configuration;
using Relay.Web.Metrics;
using Relay.Web.Udp.Native;

namespace Relay.Web.Udp;

/// <summary>
/// Binds the listening sockets (a failure stops the relay with a clear message), attaches the XDP fast path when
/// --ebpf-offloading names an interface, builds the engine and runs the data-plane thread; on shutdown stops it,
/// closes every socket and detaches the fast path.
/// </summary>
internal sealed partial class UdpRelayService : IHostedService, IDisposable
{
    /// <summary>The SOFTWARE attribute's value (RFC 8489 §14.14: a description of the software, with its version).</summary>
    public static readonly string SoftwareName = "firezone-relay " + Relay.Web.Health.RelayVersion.Current;

    private readonly RelaySettings _settings;
    private readonly RelayRuntime _runtime;
    private readonly RelayEventLog _eventLog;
    private readonly RelayMetrics _metrics;
    private readonly IFastPathFactory _fastPaths;
    private readonly TimeProvider _time;
    private readonly ILogger<UdpRelayService> _logger;
    private readonly ILoggerFactory _loggers;
    private RelayEventLoop? _loop;
    private IFastPath _fastPath = NullFastPath.Instance;

    public UdpRelayService(RelaySettings settings, RelayRuntime runtime, RelayEventLog eventLog, RelayMetrics metrics, IFastPathFactory fastPaths,
        TimeProvider time, ILoggerFactory loggers)
    {
        _fastPaths = fastPaths;
        _settings = settings;
        _runtime = runtime;
        _eventLog = eventLog;
        _metrics = metrics;
        _eventLog.Add(metrics);
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<UdpRelayService>();
    }

    /// <summary>
    /// Starts the data plane. A failure the operator must fix (a taken port, no public address, XDP refused) stops
    /// the relay with exit code 2 and that message alone, rather than an exception the host would log with its trace.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            Start();
        }
        catch (RelayStartupException failure)
        {
            _runtime.RequestExit(2, failure.Message);
        }

        return Task.CompletedTask;
    }

    private void Start()
    {
        var (publicV4, publicV6, v6Explicit) = ResolvePublicAddresses();
        UdpSocket? listenV4 = null, listenV6 = null;
        ushort port = _settings.ListenPort;
        if (publicV4 is not null)
        {
            listenV4 = OpenListener(_settings.BindIp4, port, mandatory: true);
            port = listenV4!.Port;
        }

        if (publicV6 is not null)
        {
            try
            {
                listenV6 = OpenListener(_settings.BindIp6, port, mandatory: v6Explicit || listenV4 is null);
            }
            catch
            {
                listenV4?.Dispose();
                throw;
            }

            if (listenV6 is null)
            {
                publicV6 = null; // discovered but unusable: run IPv4-only
            }
            else
            {
                port = listenV6.Port;
            }
        }

        var options = new RelayServerOptions
        {
            PublicIPv4 = publicV4 is null ? null : IpAddr.FromIPAddress(publicV4),
            PublicIPv6 = publicV6 is null ? null : IpAddr.FromIPAddress(publicV6),
            ListenPort = port,
            LocalAddresses = InterfaceAddresses(),
            LowestPort = _settings.LowestPort,
            HighestPort = _settings.HighestPort,
            AuthScheme = _settings.AuthScheme,
            RelaySecret = _settings.RelaySecret,
            Realm = _settings.Realm,
            ChannelNumbers = _settings.Rfc5766ChannelNumbers ? ChannelNumberRange.Rfc5766 : ChannelNumberRange.Rfc8656,
            Peers = new PeerPolicyOptions
            {
                AllowLoopback = _settings.AllowLoopbackPeers,
                AllowPrivate = _settings.AllowPrivatePeers,
                Allowed = _settings.AllowedPeers,
                Denied = _settings.DeniedPeers,
            },
            ControlPorts = [(ushort)_settings.HealthCheckEndpoint.Port, (ushort)_settings.ControlEndpoint.Port],
            MaxAllocationsPerUser = _settings.UserQuota,
            MaxAllocations = _settings.MaxAllocations,
            DefaultAllocationLifetime = TimeSpan.FromSeconds(_settings.AllocationLifetime),
            MaxAllocationLifetime = TimeSpan.FromSeconds(_settings.MaxAllocationLifetime),
            PermissionLifetime = TimeSpan.FromSeconds(_settings.PermissionLifetime),
            ChannelLifetime = TimeSpan.FromSeconds(_settings.ChannelLifetime),
            NonceLifetime = TimeSpan.FromSeconds(_settings.NonceLifetime),
            MaxPermissionsPerAllocation = _settings.MaxPermissionsPerAllocation,
            MaxChannelsPerAllocation = _settings.MaxChannelsPerAllocation,
            MaxBytesPerSecondPerAllocation = _settings.MaxBps,
            Software = _settings.NoSoftware ? null : SoftwareName,
            UnauthenticatedResponsesPerSecond = _settings.UnauthenticatedRate,
            UnauthenticatedResponseBurst = Math.Max(1, 2 * _settings.UnauthenticatedRate),
        };
        IRandomSource random = _settings.RngSeed is { } seed ? new SeededRandom(seed) : new SecureRandomSource();
        var engine = new RelayServer(options, random, _eventLog);
        try
        {
            _fastPath = _fastPaths.Create(port, publicV4, publicV6);
        }
        catch
        {
            listenV4?.Dispose();
            listenV6?.Dispose();
            throw;
        }

        _loop = new RelayEventLoop(engine, _fastPath, _metrics, new RelayClock(_time), listenV4, listenV6, _settings.BindIp4, _settings.BindIp6,
            _loggers.CreateLogger("Relay.Web.Udp.RelayEventLoop"));
        _runtime.Attach(_loop, publicV4, publicV6, port);
        _loop.Start();
        _runtime.StartedAt = _time.GetUtcNow();
        LogListening(_logger, port, Bound(listenV4, _settings.BindIp4, port), Bound(listenV6, _settings.BindIp6, port),
            publicV4?.ToString() ?? "none", publicV6?.ToString() ?? "none", _settings.LowestPort, _settings.HighestPort);
    }

    private (IPAddress? V4, IPAddress? V6, bool V6Explicit) ResolvePublicAddresses()
    {
        if (_settings.PublicIp4 is not null || _settings.PublicIp6 is not null)
        {
            return (_settings.PublicIp4, _settings.PublicIp6, _settings.PublicIp6 is not null);
        }

        IPAddress? v4 = PublicAddressDiscovery.DefaultRouteAddress(AddressFamily.InterNetwork);
        IPAddress? v6 = PublicAddressDiscovery.DefaultRouteAddress(AddressFamily.InterNetworkV6);
        if (v4 is null && v6 is null)
        {
            throw new RelayStartupException("no public address given and no default route found: set --public-ip4-addr (PUBLIC_IP4_ADDR) or --public-ip6-addr (PUBLIC_IP6_ADDR)");
        }

        LogDiscovered(_logger, v4?.ToString() ?? "none", v6?.ToString() ?? "none");
        return (v4, v6, false);
    }

    /// <summary>Every unicast address of this host's interfaces (the engine refuses them as peers on the listen port).</summary>
    private static List<IpAddr> InterfaceAddresses()
    {
        var addresses = new List<IpAddr>();
        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.AddressFamily == AddressFamily.InterNetwork || unicast.Address.ScopeId == 0)
                    {
                        addresses.Add(IpAddr.FromIPAddress(unicast.Address));
                    }
                }
            }
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            // Without the list the public and loopback addresses are still protected.
        }

        return addresses;
    }

    private UdpSocket? OpenListener(IPAddress bind, ushort port, bool mandatory)
    {
        UdpSocket? socket = UdpSocket.TryOpen(bind, port, dontFragment: false, UdpSocket.BufferBytes, out int errno);
        if (socket is null)
        {
            string reason = LibC.ErrorText(errno);
            if (mandatory)
            {
                string flag = bind.AddressFamily == AddressFamily.InterNetwork ? "--bind-ip4-addr" : "--bind-ip6-addr";
                throw new RelayStartupException($"cannot bind UDP {new IPEndPoint(bind, port)} ({reason}); check --listen-port and {flag}");
            }

            LogListenerSkipped(_logger, new IPEndPoint(bind, port).ToString(), reason);
        }

        return socket;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _loop, null) is { } loop)
        {
            _runtime.Detach();
            loop.Dispose();
            LogStopped(_logger);
        }

        Interlocked.Exchange(ref _fastPath, NullFastPath.Instance).Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _loop, null)?.Dispose();
        Interlocked.Exchange(ref _fastPath, NullFastPath.Instance).Dispose();
    }

    private static string Bound(UdpSocket? socket, IPAddress bind, ushort port) => socket is null ? "-" : new IPEndPoint(bind, port).ToString();

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Listening for STUN/TURN on UDP port {Port} ({BindV4}, {BindV6}); public IPv4 {V4}, IPv6 {V6}; relay ports {Lowest}-{Highest}")]
    private static partial void LogListening(ILogger logger, ushort port, string bindV4, string bindV6, string v4, string v6, ushort lowest, ushort highest);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "No public address configured: using the default-route addresses IPv4 {V4}, IPv6 {V6} (set --public-ip4-addr/--public-ip6-addr to choose)")]
    private static partial void LogDiscovered(ILogger logger, string v4, string v6);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "IPv6 disabled: cannot bind {Endpoint} ({Reason})")]
    private static partial void LogListenerSkipped(ILogger logger, string endpoint, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "UDP data plane stopped; all sockets closed")]
    private static partial void LogStopped(ILogger logger);
}

/// <summary>A start-up failure with a message meant for the operator (no stack trace needed).</summary>
public sealed class RelayStartupException(string message) : Exception(message);
