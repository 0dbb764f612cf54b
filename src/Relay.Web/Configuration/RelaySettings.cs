using System.Net;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Web.Cloud;
using Relay.Web.Logging;
using Relay.Xdp;

namespace Relay.Web.Configuration;

public enum LogFormat
{
    Human,
    Json,
}

/// <summary>
/// The relay's settings. Each property with a <see cref="SettingAttribute"/> is one setting's whole definition:
/// flag, environment variables, default, help and parser (the flags keep the reference's names). Adding a setting
/// is adding a property here. <see cref="SettingsLoader"/> fills them from flags, environment and a configuration
/// file, and <see cref="SettingRules"/> checks how they combine.
/// </summary>
public sealed record RelaySettings
{
    [Setting("--public-ip4-addr", "PUBLIC_IP4_ADDR", Parser = typeof(AdvertisedIpv4Parser), Concern = SettingConcern.Network,
        Help = "Public IPv4 address advertised in XOR-RELAYED-ADDRESS and to the portal. Default: the address of the default-route interface.")]
    public IPAddress? PublicIp4 { get; init; }

    [Setting("--public-ip6-addr", "PUBLIC_IP6_ADDR", Parser = typeof(AdvertisedIpv6Parser), Concern = SettingConcern.Network,
        Help = "Public IPv6 address. Default: the global address of the IPv6 default route, if any.")]
    public IPAddress? PublicIp6 { get; init; }

    [Setting("--listen-address-discovery-method", "LISTEN_ADDRESS_DISCOVERY_METHOD", Default = "none", Parser = typeof(ChoiceParser<AddressDiscoveryMethod>), Concern = SettingConcern.Network,
        Help = "On a cloud VM, ask the instance metadata service at start for the public addresses not given above: gce-metadata or aws-ec2-metadata (IMDSv2). A family the instance has no public address of is left out.")]
    public AddressDiscoveryMethod ListenAddressDiscovery { get; init; }

    [Setting("--metadata-endpoint", "METADATA_ENDPOINT", Parser = typeof(MetadataUrlParser), Concern = SettingConcern.Network,
        Help = "Base URL of the instance metadata service. Default: http://metadata.google.internal (GCE), http://169.254.169.254 (AWS).")]
    public Uri? MetadataEndpoint { get; init; }

    [Setting("--bind-ip4-addr", "BIND_IP4_ADDR", Default = "0.0.0.0", Parser = typeof(BindIpv4Parser), Concern = SettingConcern.Network,
        Help = "Address the IPv4 sockets bind to.")]
    public IPAddress BindIp4 { get; init; } = null!;

    [Setting("--bind-ip6-addr", "BIND_IP6_ADDR", Default = "::", Parser = typeof(BindIpv6Parser), Concern = SettingConcern.Network,
        Help = "Address the IPv6 sockets bind to (IPV6_V6ONLY).")]
    public IPAddress BindIp6 { get; init; } = null!;

    [Setting("--listen-port", "LISTEN_PORT", Default = "3478", Parser = typeof(ListenPortParser), Concern = SettingConcern.Network,
        Help = "UDP port for STUN/TURN (0 = any free port).")]
    public ushort ListenPort { get; init; }

    [Setting("--lowest-port", "LOWEST_PORT", Default = "49152", Parser = typeof(PortParser), Concern = SettingConcern.Network,
        Help = "Lowest relay port.")]
    public ushort LowestPort { get; init; }

    [Setting("--highest-port", "HIGHEST_PORT", Default = "65535", Parser = typeof(PortParser), Concern = SettingConcern.Network,
        Help = "Highest relay port.")]
    public ushort HighestPort { get; init; }

    [Setting("--rfc5766-channel-numbers", "RFC5766_CHANNEL_NUMBERS", Default = "false", Parser = typeof(SwitchParser), Concern = SettingConcern.Network,
        Help = "Accept channel numbers up to 0x7FFF (RFC 5766; coturn's clients pick them) instead of RFC 8656's 0x4000-0x4FFF.")]
    public bool Rfc5766ChannelNumbers { get; init; }

    [Setting("--allow-loopback-peers", "ALLOW_LOOPBACK_PEERS", Default = "false", Parser = typeof(SwitchParser), Concern = SettingConcern.PeerPolicy,
        Help = "Allow relaying to loopback peers (tests and single-machine use only).")]
    public bool AllowLoopbackPeers { get; init; }

    [Setting("--allow-private-peers", "ALLOW_PRIVATE_PEERS", Default = "false", Parser = typeof(SwitchParser), Concern = SettingConcern.PeerPolicy,
        Help = "Allow relaying to private (RFC 1918, fc00::/7), CGNAT (100.64.0.0/10) and documentation addresses, refused by default (labs and private networks).")]
    public bool AllowPrivatePeers { get; init; }

    [Setting("--allowed-peer-ip", "ALLOWED_PEER_IP", Parser = typeof(NetworkListParser), Concern = SettingConcern.PeerPolicy,
        Help = "A peer address or CIDR block always allowed, whatever range it is in (never the relay's own ports). Comma-separated in the environment.")]
    public IReadOnlyList<IpNetwork> AllowedPeers { get; init; } = [];

    [Setting("--denied-peer-ip", "DENIED_PEER_IP", Parser = typeof(NetworkListParser), Concern = SettingConcern.PeerPolicy,
        Help = "A peer address or CIDR block refused in addition to the built-in ranges; --allowed-peer-ip wins over it.")]
    public IReadOnlyList<IpNetwork> DeniedPeers { get; init; } = [];

    [Setting("--rng-seed", "RNG_SEED", Parser = typeof(UInt64Parser), Concern = SettingConcern.Network,
        Help = "Seed for reproducible ports and nonces (testing only: it makes them predictable).")]
    public ulong? RngSeed { get; init; }

    [Setting("--auth-scheme", "AUTH_SCHEME", Default = "firezone", Parser = typeof(ChoiceParser<AuthScheme>), Concern = SettingConcern.Authentication,
        Help = "firezone (one allocation per username, as the reference) or turn-rest (coturn's --use-auth-secret, for WebRTC apps whose peer connections share a credential).")]
    public AuthScheme AuthScheme { get; init; }

    [Setting("--relay-secret", "RELAY_SECRET", Concern = SettingConcern.Authentication,
        Help = "Credential secret: 64 hex characters for the firezone scheme, at least 8 for turn-rest. Generated at start when absent; keep it to keep credentials valid across restarts.")]
    public string? RelaySecret { get; init; }

    [Setting("--realm", "REALM", Default = "firezone", Parser = typeof(RealmParser), Concern = SettingConcern.Authentication,
        Help = "STUN realm.")]
    public string Realm { get; init; } = null!;

    [Setting("--no-software", "NO_SOFTWARE", Default = "false", Parser = typeof(SwitchParser), Concern = SettingConcern.Authentication,
        Help = "Leave the SOFTWARE attribute (\"firezone-relay VERSION\") out of responses. It is only ever sent to authenticated clients.")]
    public bool NoSoftware { get; init; }

    [Setting("--unauthenticated-rate", "UNAUTHENTICATED_RATE", Default = "100", Parser = typeof(CountParser), Concern = SettingConcern.Authentication,
        Help = "Error responses (401, 438, 400, 420) to unauthenticated requests one source IP gets per second, with bursts of twice that; the rest are dropped and counted (relay_dropped_packets_total{reason=\"unauthenticated_rate_limited\"}). Bounds the relay's use as an amplifier by spoofed sources. 0 = unlimited.")]
    public int UnauthenticatedRate { get; init; }

    [Setting("--user-quota", "USER_QUOTA", Default = "100", Parser = typeof(CountParser), Concern = SettingConcern.Authentication,
        Help = "Allocations one TURN REST user may hold (0 = unlimited).")]
    public int UserQuota { get; init; }

    [Setting("--max-allocations", "MAX_ALLOCATIONS", Default = "0", Parser = typeof(CountParser), Concern = SettingConcern.Authentication,
        Help = "Allocations the relay holds at once; beyond it Allocate gets 508 (0 = only the port range limits).")]
    public int MaxAllocations { get; init; }

    [Setting("--max-permissions-per-allocation", "MAX_PERMISSIONS_PER_ALLOCATION", Default = "256", Parser = typeof(CountParser), Concern = SettingConcern.Authentication,
        Help = "Peer addresses one allocation may hold permissions for; beyond it CreatePermission gets 508.")]
    public int MaxPermissionsPerAllocation { get; init; }

    [Setting("--max-channels-per-allocation", "MAX_CHANNELS_PER_ALLOCATION", Default = "256", Parser = typeof(CountParser), Concern = SettingConcern.Authentication,
        Help = "Channels one allocation may bind; beyond it ChannelBind gets 508.")]
    public int MaxChannelsPerAllocation { get; init; }

    [Setting("--max-bps", "MAX_BPS", Default = "0", Parser = typeof(BandwidthParser), Concern = SettingConcern.Authentication,
        Help = "Bandwidth cap per allocation and direction, in payload bytes per second as coturn's --max-bps (or with a unit: 1250kB, 10Mbit). Each direction may burst one second's worth; packets beyond it are dropped and counted (relay_dropped_packets_total{reason=\"over_bandwidth\"}, and per allocation in the admin API), in userspace and in the XDP fast path alike. 0 = no cap.")]
    public long MaxBps { get; init; }

    [Setting("--allocation-lifetime", "ALLOCATION_LIFETIME", Default = "600", Parser = typeof(AllocationLifetimeParser), Concern = SettingConcern.Authentication,
        Help = "Seconds an allocation lives when the client asks for less or nothing (RFC 8656 default: 600).")]
    public int AllocationLifetime { get; init; }

    [Setting("--max-allocation-lifetime", "MAX_ALLOCATION_LIFETIME", Default = "3600", Parser = typeof(AllocationLifetimeParser), Concern = SettingConcern.Authentication,
        Help = "The longest LIFETIME an Allocate or Refresh is granted, in seconds.")]
    public int MaxAllocationLifetime { get; init; }

    [Setting("--permission-lifetime", "PERMISSION_LIFETIME", Default = "300", Parser = typeof(PermissionLifetimeParser), Concern = SettingConcern.Authentication,
        Help = "Seconds a permission lives after CreatePermission or ChannelBind (RFC 8656: 300).")]
    public int PermissionLifetime { get; init; }

    [Setting("--channel-lifetime", "CHANNEL_LIFETIME", Default = "600", Parser = typeof(ChannelLifetimeParser), Concern = SettingConcern.Authentication,
        Help = "Seconds a channel binding lives after ChannelBind (RFC 8656: 600).")]
    public int ChannelLifetime { get; init; }

    [Setting("--nonce-lifetime", "NONCE_LIFETIME", Default = "600", Parser = typeof(NonceLifetimeParser), Concern = SettingConcern.Authentication,
        Help = "Seconds a nonce is accepted before the client gets 438 and a fresh one.")]
    public int NonceLifetime { get; init; }

    [Setting("--api-url", "FIREZONE_API_URL", Parser = typeof(PortalUrlParser), Concern = SettingConcern.Portal,
        Help = "Portal URL (ws://, wss://, http:// or https://). Required with a token.")]
    public Uri? PortalUrl { get; init; }

    [Setting("--token", "FIREZONE_TOKEN", Parser = typeof(TokenParser), Concern = SettingConcern.Portal,
        Help = "Portal token, or the absolute path of a file holding it (a mounted secret); prefer the environment variable (command lines are visible to other users). Without it the relay runs standalone.")]
    public string? Token { get; init; }

    [Setting("--name", "FIREZONE_NAME", Concern = SettingConcern.Portal, Help = "Name reported to the portal.")]
    public string? Name { get; init; }

    [Setting("--health-check-addr", "HEALTH_CHECK_ADDR", Default = "0.0.0.0:8080", Parser = typeof(EndpointParser), Concern = SettingConcern.Management,
        Help = "Address of /healthz, /readyz and /metrics.")]
    public IPEndPoint HealthCheckEndpoint { get; init; } = null!;

    [Setting("--control-endpoint", "CONTROL_ENDPOINT", Default = "127.0.0.1:9999", Parser = typeof(EndpointParser), Concern = SettingConcern.Management,
        Help = "Address of the admin API and Swagger UI.")]
    public IPEndPoint ControlEndpoint { get; init; } = null!;

    [Setting("--admin-token", "ADMIN_TOKEN", Concern = SettingConcern.Management,
        Help = "Bearer token for the admin API; required when the control endpoint is not loopback.")]
    public string? AdminToken { get; init; }

    [Setting("--drain-timeout", "DRAIN_TIMEOUT", Default = "0", Parser = typeof(CountParser), Concern = SettingConcern.Management,
        Help = "Seconds a SIGTERM (or POST /admin/drain) drains for: /readyz turns 503, new Allocates get 508 (or 300, see --alternate-server), existing allocations keep relaying and refreshing until they end or the time is up; then the relay exits 0. 0 exits at once, as the reference.")]
    public int DrainTimeout { get; init; }

    [Setting("--alternate-server", "ALTERNATE_SERVER", Parser = typeof(EndpointParser), Concern = SettingConcern.Management,
        Help = "Another relay (address:port) that Allocates are sent to with 300 Try Alternate while this one drains.")]
    public IPEndPoint? AlternateServer { get; init; }

    [Setting("--log-format", "LOG_FORMAT", Default = "human", Parser = typeof(ChoiceParser<LogFormat>), Concern = SettingConcern.Telemetry,
        Help = "human or json.")]
    public LogFormat LogFormat { get; init; }

    [Setting("--log-filter", "RUST_LOG", "LOG_FILTER", Default = "info", Parser = typeof(LogFilterParser), Concern = SettingConcern.Telemetry,
        Help = "Log filter in RUST_LOG syntax, e.g. 'info' or 'warn,relay=debug'.")]
    public LogFilter LogFilter { get; init; } = null!;

    [Setting("--otlp-grpc-endpoint", "OTLP_GRPC_ENDPOINT", Parser = typeof(OtlpEndpointParser), Concern = SettingConcern.Telemetry,
        Help = "OTLP/gRPC collector (host:port or URL) for metrics and traces.")]
    public Uri? OtlpEndpoint { get; init; }

    [Setting("--otel-metadata-discovery-method", "OTEL_METADATA_DISCOVERY_METHOD", Default = "none", Parser = typeof(ChoiceParser<TelemetryDiscoveryMethod>), Concern = SettingConcern.Telemetry,
        Help = "gce-metadata: read the VM's instance id, name and zone from the metadata service at start and put them in the OpenTelemetry resource (service.instance.id, gcp.gce.instance.name, cloud.availability_zone, cloud.region) of metrics and traces.")]
    public TelemetryDiscoveryMethod OtelMetadataDiscovery { get; init; }

    [Setting("--ebpf-offloading", "EBPF_OFFLOADING", Parser = typeof(InterfaceParser), Concern = SettingConcern.Xdp,
        Help = "Network interface to attach the XDP fast path to (needs root or CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON).")]
    public string? EbpfInterface { get; init; }

    [Setting("--ebpf-attach-mode", "EBPF_ATTACH_MODE", Default = "driver", Parser = typeof(ChoiceParser<XdpAttachMode>), Concern = SettingConcern.Xdp,
        Help = "driver (native XDP) or generic (any interface, slower).")]
    public XdpAttachMode EbpfAttachMode { get; init; }

    [Setting("--ebpf-int4-addr", "EBPF_INT4_ADDR", Parser = typeof(AdvertisedIpv4Parser), Concern = SettingConcern.Xdp,
        Help = "Source address of packets XDP translates from IPv6 to IPv4. Default: the interface's own IPv4 address.")]
    public IPAddress? EbpfInt4 { get; init; }

    [Setting("--ebpf-int6-addr", "EBPF_INT6_ADDR", Parser = typeof(AdvertisedIpv6Parser), Concern = SettingConcern.Xdp,
        Help = "Source address of packets XDP translates from IPv4 to IPv6. Default: the interface's own global IPv6 address.")]
    public IPAddress? EbpfInt6 { get; init; }

    [Setting("--telemetry", "TELEMETRY", Default = "false", Parser = typeof(SwitchParser), Concern = SettingConcern.Compatibility,
        Ignored = "this relay sends no crash reports; its logs, metrics and OTLP traces carry what Sentry would")]
    public bool Telemetry { get; init; }

    [Setting("--num-worker-threads", "NUM_WORKER_THREADS", Parser = typeof(CountParser), Concern = SettingConcern.Compatibility,
        Ignored = "this relay's data plane is one thread by design and its web host sizes its own thread pool")]
    public int NumWorkerThreads { get; init; }

    /// <summary>A portal token makes the relay join the portal; without one it runs standalone.</summary>
    public bool PortalMode => Token is not null;
}
