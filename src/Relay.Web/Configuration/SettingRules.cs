using System.Net;
using Relay.Core.Auth;

namespace Relay.Web.Configuration;

/// <summary>
/// How settings must combine, grouped by concern. Each rule names the settings it reads; it runs only when all of
/// them parsed, and reports against the setting the operator should change.
/// </summary>
public static class SettingRules
{
    private sealed record Rule(string[] Reads, string Blames, Func<RelaySettings, string?> Check);

    private static readonly Rule[] Rules =
    [
        // Network: the relay port range, and the listen port outside it.
        new([nameof(RelaySettings.LowestPort), nameof(RelaySettings.HighestPort)], nameof(RelaySettings.LowestPort),
            s => s.LowestPort > s.HighestPort ? $"{s.LowestPort} is above --highest-port {s.HighestPort}" : null),
        new([nameof(RelaySettings.ListenPort), nameof(RelaySettings.LowestPort), nameof(RelaySettings.HighestPort)], nameof(RelaySettings.ListenPort),
            s => s.ListenPort != 0 && s.ListenPort >= s.LowestPort && s.ListenPort <= s.HighestPort
                ? $"{s.ListenPort} lies inside the relay port range {s.LowestPort}-{s.HighestPort}" : null),

        // Authentication: the secret's form depends on the scheme.
        new([nameof(RelaySettings.RelaySecret), nameof(RelaySettings.AuthScheme)], nameof(RelaySettings.RelaySecret),
            s => s.RelaySecret is { } secret ? CredentialRules.CheckSecret(s.AuthScheme, secret) : null),

        // Quotas: an allocation needs room for at least one peer.
        new([nameof(RelaySettings.MaxPermissionsPerAllocation)], nameof(RelaySettings.MaxPermissionsPerAllocation),
            s => s.MaxPermissionsPerAllocation < 1 ? "must be at least 1" : null),
        new([nameof(RelaySettings.MaxChannelsPerAllocation)], nameof(RelaySettings.MaxChannelsPerAllocation),
            s => s.MaxChannelsPerAllocation < 1 ? "must be at least 1" : null),

        // Lifetimes: the maximum cannot be below the default.
        new([nameof(RelaySettings.AllocationLifetime), nameof(RelaySettings.MaxAllocationLifetime)], nameof(RelaySettings.MaxAllocationLifetime),
            s => s.MaxAllocationLifetime < s.AllocationLifetime ? $"{s.MaxAllocationLifetime} is below --allocation-lifetime {s.AllocationLifetime}" : null),

        // Portal: a token needs somewhere to use it.
        new([nameof(RelaySettings.Token), nameof(RelaySettings.PortalUrl)], nameof(RelaySettings.PortalUrl),
            s => s.Token is not null && s.PortalUrl is null ? "is required when a portal token (FIREZONE_TOKEN) is given" : null),

        // Management: the admin API is open to the network only behind a token.
        new([nameof(RelaySettings.ControlEndpoint), nameof(RelaySettings.AdminToken)], nameof(RelaySettings.ControlEndpoint),
            s => !IPAddress.IsLoopback(s.ControlEndpoint.Address) && s.AdminToken is null
                ? $"{s.ControlEndpoint} is reachable from other hosts: set --admin-token (ADMIN_TOKEN) or bind it to 127.0.0.1" : null),
    ];

    /// <summary>Every broken rule among those whose settings parsed: (property to blame, message).</summary>
    public static IEnumerable<(string Property, string Message)> Check(RelaySettings settings, IReadOnlySet<string> invalid)
    {
        foreach (Rule rule in Rules)
        {
            if (!rule.Reads.Any(invalid.Contains) && rule.Check(settings) is { } message)
            {
                yield return (rule.Blames, message);
            }
        }
    }
}
