using Relay.Web.Configuration;

namespace Relay.Web.Admin;

/// <summary>The quotas, caps and lifetimes in effect (each one a flag; 0 where the flag says so means none).</summary>
/// <param name="MaxAllocations">--max-allocations: allocations at once (0 = only the port range limits).</param>
/// <param name="UserQuota">--user-quota: allocations one TURN REST user may hold (0 = unlimited).</param>
/// <param name="MaxPermissionsPerAllocation">--max-permissions-per-allocation.</param>
/// <param name="MaxChannelsPerAllocation">--max-channels-per-allocation.</param>
/// <param name="MaxBytesPerSecondPerAllocation">--max-bps: payload bytes per second per allocation and direction (0 = no cap).</param>
/// <param name="UnauthenticatedResponsesPerSecond">--unauthenticated-rate: error responses per source IP per second (0 = unlimited).</param>
/// <param name="AllocationLifetimeSeconds">--allocation-lifetime: when the client asks for less or nothing.</param>
/// <param name="MaxAllocationLifetimeSeconds">--max-allocation-lifetime.</param>
/// <param name="PermissionLifetimeSeconds">--permission-lifetime.</param>
/// <param name="ChannelLifetimeSeconds">--channel-lifetime.</param>
/// <param name="NonceLifetimeSeconds">--nonce-lifetime.</param>
/// <param name="DrainTimeoutSeconds">--drain-timeout: how long SIGTERM waits for allocations to end (0 = exit at once).</param>
public sealed record LimitsModel(
    int MaxAllocations,
    int UserQuota,
    int MaxPermissionsPerAllocation,
    int MaxChannelsPerAllocation,
    long MaxBytesPerSecondPerAllocation,
    int UnauthenticatedResponsesPerSecond,
    int AllocationLifetimeSeconds,
    int MaxAllocationLifetimeSeconds,
    int PermissionLifetimeSeconds,
    int ChannelLifetimeSeconds,
    int NonceLifetimeSeconds,
    int DrainTimeoutSeconds)
{
    public static LimitsModel From(RelaySettings s) => new(
        s.MaxAllocations, s.UserQuota, s.MaxPermissionsPerAllocation, s.MaxChannelsPerAllocation, s.MaxBps, s.UnauthenticatedRate,
        s.AllocationLifetime, s.MaxAllocationLifetime, s.PermissionLifetime, s.ChannelLifetime, s.NonceLifetime, s.DrainTimeout);

    /// <summary>The same values as metric samples: the <c>limit</c> label and the value.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> ToSamples() =>
    [
        new("max_allocations", MaxAllocations),
        new("user_quota", UserQuota),
        new("max_permissions_per_allocation", MaxPermissionsPerAllocation),
        new("max_channels_per_allocation", MaxChannelsPerAllocation),
        new("max_bytes_per_second_per_allocation", MaxBytesPerSecondPerAllocation),
        new("unauthenticated_responses_per_second", UnauthenticatedResponsesPerSecond),
        new("allocation_lifetime_seconds", AllocationLifetimeSeconds),
        new("max_allocation_lifetime_seconds", MaxAllocationLifetimeSeconds),
        new("permission_lifetime_seconds", PermissionLifetimeSeconds),
        new("channel_lifetime_seconds", ChannelLifetimeSeconds),
        new("nonce_lifetime_seconds", NonceLifetimeSeconds),
        new("drain_timeout_seconds", DrainTimeoutSeconds),
    ];
}
