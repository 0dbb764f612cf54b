using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;

namespace Relay.Core.Server;

/// <summary>Which channel numbers ChannelBind accepts.</summary>
public enum ChannelNumberRange
{
    /// <summary>0x4000–0x4FFF, as RFC 8656 §12 requires.</summary>
    Rfc8656,

    /// <summary>0x4000–0x7FFF, for RFC 5766 clients (coturn's client library picks numbers up to 0x7FFF).</summary>
    Rfc5766,
}

/// <summary>Everything the engine is configured with. Defaults follow RFC 8656 and the Firezone relay.</summary>
public sealed class RelayServerOptions
{
    /// <summary>The public IPv4 address put into XOR-RELAYED-ADDRESS; null when the relay has no IPv4.</summary>
    public IpAddr? PublicIPv4 { get; init; }

    /// <summary>The public IPv6 address put into XOR-RELAYED-ADDRESS; null when the relay has no IPv6.</summary>
    public IpAddr? PublicIPv6 { get; init; }

    public ushort ListenPort { get; init; } = 3478;

    /// <summary>
    /// The host's own interface addresses, besides the public ones (a cloud VM's private address behind its NAT).
    /// No peer may be the listening port on any of them.
    /// </summary>
    public IReadOnlyList<IpAddr> LocalAddresses { get; init; } = [];

    public ushort LowestPort { get; init; } = 49152;

    public ushort HighestPort { get; init; } = 65535;

    public AuthScheme AuthScheme { get; init; } = AuthScheme.Firezone;

    /// <summary>The shared credential secret; generated from the injected randomness when null (64 hex chars).</summary>
    public string? RelaySecret { get; init; }

    public string Realm { get; init; } = "firezone";

    public ChannelNumberRange ChannelNumbers { get; init; } = ChannelNumberRange.Rfc8656;

    /// <summary>Which peers allocations may reach beyond the defaults (which refuse private and special ranges).</summary>
    public PeerPolicyOptions Peers { get; init; } = new();

    /// <summary>The relay's other ports (health, admin): no peer may be one of them on one of the relay's addresses.</summary>
    public IReadOnlyList<ushort> ControlPorts { get; init; } = [];

    /// <summary>Allocations the relay holds at once (508 beyond it). 0 means unlimited (the port range still limits).</summary>
    public int MaxAllocations { get; init; }

    /// <summary>Allocations one TURN REST user may hold at once (486 beyond it). 0 means unlimited.</summary>
    public int MaxAllocationsPerUser { get; init; } = 100;

    public int MaxPermissionsPerAllocation { get; init; } = 256;

    public int MaxChannelsPerAllocation { get; init; } = 256;

    /// <summary>
    /// Payload bytes per second one allocation may relay in each direction (client to peers, peers to client), with
    /// one second's burst; packets beyond it are dropped and counted. 0 means no cap.
    /// </summary>
    public long MaxBytesPerSecondPerAllocation { get; init; }

    /// <summary>SOFTWARE attribute in authenticated responses (RFC 8656 §5 SHOULD); omitted when null.</summary>
    public string? Software { get; init; }

    /// <summary>
    /// Error responses to unauthenticated requests (401, 438, 400, 420) one source IP may get per second, sustained;
    /// beyond it they are dropped and counted. 0 turns the limit off.
    /// </summary>
    public int UnauthenticatedResponsesPerSecond { get; init; } = 100;

    /// <summary>How many such responses a quiet source may get at once.</summary>
    public int UnauthenticatedResponseBurst { get; init; } = 200;

    public TimeSpan DefaultAllocationLifetime { get; init; } = TimeSpan.FromSeconds(600);

    public TimeSpan MaxAllocationLifetime { get; init; } = TimeSpan.FromSeconds(3600);

    public TimeSpan PermissionLifetime { get; init; } = TimeSpan.FromSeconds(300);

    public TimeSpan ChannelLifetime { get; init; } = TimeSpan.FromSeconds(600);

    public TimeSpan ChannelRebindCooldown { get; init; } = TimeSpan.FromSeconds(300);

    public TimeSpan ReservationLifetime { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>How long a port the host could not bind is skipped before it is tried again.</summary>
    public TimeSpan PortQuarantine { get; init; } = TimeSpan.FromSeconds(60);

    public ushort HighestChannelNumber => ChannelNumbers == ChannelNumberRange.Rfc5766 ? (ushort)0x7FFF : (ushort)0x4FFF;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (PublicIPv4 is null && PublicIPv6 is null)
        {
            throw new ArgumentException("At least one public address (IPv4 or IPv6) is required.", nameof(PublicIPv4));
        }

        if (PublicIPv4 is { IsV4: false })
        {
            throw new ArgumentException("PublicIPv4 must be an IPv4 address.", nameof(PublicIPv4));
        }

        if (PublicIPv6 is { IsV4: true })
        {
            throw new ArgumentException("PublicIPv6 must be an IPv6 address.", nameof(PublicIPv6));
        }

        if (LowestPort == 0 || LowestPort > HighestPort)
        {
            throw new ArgumentException($"The relay port range {LowestPort}-{HighestPort} is empty or starts at 0.", nameof(LowestPort));
        }

        if (RelaySecret is not null && RelaySecret.Length == 0)
        {
            throw new ArgumentException("The relay secret must not be empty.", nameof(RelaySecret));
        }

        if (string.IsNullOrEmpty(Realm))
        {
            throw new ArgumentException("The realm must not be empty.", nameof(Realm));
        }

        if (MaxAllocations < 0 || MaxAllocationsPerUser < 0 || MaxPermissionsPerAllocation < 1 || MaxChannelsPerAllocation < 1)
        {
            throw new ArgumentException("Quotas must be positive (MaxAllocationsPerUser may be 0 for unlimited).", nameof(MaxAllocationsPerUser));
        }

        if (MaxBytesPerSecondPerAllocation < 0)
        {
            throw new ArgumentException("The per-allocation bandwidth cap must be 0 (none) or more.", nameof(MaxBytesPerSecondPerAllocation));
        }

        if (UnauthenticatedResponsesPerSecond < 0 || UnauthenticatedResponseBurst < 1)
        {
            throw new ArgumentException("The unauthenticated response rate must be 0 or more and its burst at least 1.", nameof(UnauthenticatedResponsesPerSecond));
        }

        if (DefaultAllocationLifetime <= TimeSpan.Zero || MaxAllocationLifetime < DefaultAllocationLifetime)
        {
            throw new ArgumentException("Allocation lifetimes must be positive and the maximum at least the default.", nameof(MaxAllocationLifetime));
        }
    }
}
