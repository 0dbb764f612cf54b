using System.CommandLine;

namespace Relay.Web.Configuration;

/// <summary>One command-line flag: its name, the configuration key it sets, its environment fallbacks and help.</summary>
public sealed record RelayFlag(string Name, string Key, string[] Environment, string Help, bool IsSwitch = false)
{
    /// <summary>"--listen-port (LISTEN_PORT)": how errors name the setting, so the operator finds it either way.</summary>
    public string Display => Environment.Length == 0 ? Name : $"{Name} ({string.Join(", ", Environment)})";
}

/// <summary>
/// The relay's flags, with the reference's names (§4 of firezone-relay.md). A flag given on the command line wins
/// over its environment variables; either becomes <c>Relay:&lt;Key&gt;</c> configuration, bound into
/// <see cref="RelayOptions"/>.
/// </summary>
public static class RelayFlags
{
    public static IReadOnlyList<RelayFlag> All { get; } =
    [
        new("--public-ip4-addr", nameof(RelayOptions.PublicIp4Addr), ["PUBLIC_IP4_ADDR"], "Public IPv4 address advertised in XOR-RELAYED-ADDRESS and to the portal. Default: the address of the default-route interface."),
        new("--public-ip6-addr", nameof(RelayOptions.PublicIp6Addr), ["PUBLIC_IP6_ADDR"], "Public IPv6 address. Default: the global address of the IPv6 default route, if any."),
        new("--bind-ip4-addr", nameof(RelayOptions.BindIp4Addr), ["BIND_IP4_ADDR"], "Address the IPv4 sockets bind to. Default: 0.0.0.0."),
        new("--bind-ip6-addr", nameof(RelayOptions.BindIp6Addr), ["BIND_IP6_ADDR"], "Address the IPv6 sockets bind to (IPV6_V6ONLY). Default: ::."),
        new("--listen-port", nameof(RelayOptions.ListenPort), ["LISTEN_PORT"], "UDP port for STUN/TURN. Default: 3478 (0 = any free port)."),
        new("--lowest-port", nameof(RelayOptions.LowestPort), ["LOWEST_PORT"], "Lowest relay port. Default: 49152."),
        new("--highest-port", nameof(RelayOptions.HighestPort), ["HIGHEST_PORT"], "Highest relay port. Default: 65535."),
        new("--api-url", nameof(RelayOptions.ApiUrl), ["FIREZONE_API_URL"], "Portal URL (ws://, wss://, http:// or https://). Required with a token."),
        new("--token", nameof(RelayOptions.Token), ["FIREZONE_TOKEN"], "Portal token; prefer the environment variable (command lines are visible to other users). Without it the relay runs standalone."),
        new("--name", nameof(RelayOptions.Name), ["FIREZONE_NAME"], "Name reported to the portal."),
        new("--health-check-addr", nameof(RelayOptions.HealthCheckAddr), ["HEALTH_CHECK_ADDR"], "Address of /healthz, /readyz and /metrics. Default: 0.0.0.0:8080."),
        new("--control-endpoint", nameof(RelayOptions.ControlEndpoint), ["CONTROL_ENDPOINT"], "Address of the admin API and Swagger UI. Default: 127.0.0.1:9999."),
        new("--admin-token", nameof(RelayOptions.AdminToken), ["ADMIN_TOKEN"], "Bearer token for the admin API; required when the control endpoint is not loopback."),
        new("--log-format", nameof(RelayOptions.LogFormat), ["LOG_FORMAT"], "human or json. Default: human."),
        new("--log-filter", nameof(RelayOptions.LogFilter), ["RUST_LOG", "LOG_FILTER"], "Log filter in RUST_LOG syntax, e.g. 'info' or 'warn,relay=debug'. Default: info."),
        new("--rng-seed", nameof(RelayOptions.RngSeed), ["RNG_SEED"], "Seed for reproducible ports and nonces (testing only: it makes them predictable)."),
        new("--otlp-grpc-endpoint", nameof(RelayOptions.OtlpGrpcEndpoint), ["OTLP_GRPC_ENDPOINT"], "OTLP/gRPC collector (host:port or URL) for metrics and traces."),
        new("--ebpf-offloading", nameof(RelayOptions.EbpfOffloading), ["EBPF_OFFLOADING"], "Network interface to attach the XDP fast path to."),
        new("--ebpf-attach-mode", nameof(RelayOptions.EbpfAttachMode), ["EBPF_ATTACH_MODE"], "driver or generic. Default: driver."),
        new("--ebpf-int4-addr", nameof(RelayOptions.EbpfInt4Addr), ["EBPF_INT4_ADDR"], "Interface IPv4 address used as source when XDP translates IPv6 to IPv4."),
        new("--ebpf-int6-addr", nameof(RelayOptions.EbpfInt6Addr), ["EBPF_INT6_ADDR"], "Interface IPv6 address used as source when XDP translates IPv4 to IPv6."),
        new("--relay-secret", nameof(RelayOptions.RelaySecret), ["RELAY_SECRET"], "Credential secret (64 hex characters for the firezone scheme). Generated at start when absent; keep it to keep credentials valid across restarts."),
        new("--auth-scheme", nameof(RelayOptions.AuthScheme), ["AUTH_SCHEME"], "firezone or turn-rest (coturn --use-auth-secret). Default: firezone."),
        new("--realm", nameof(RelayOptions.Realm), ["REALM"], "STUN realm. Default: firezone."),
        new("--user-quota", nameof(RelayOptions.UserQuota), ["USER_QUOTA"], "Allocations one TURN REST user may hold (0 = unlimited). Default: 100."),
        new("--rfc5766-channel-numbers", nameof(RelayOptions.Rfc5766ChannelNumbers), ["RFC5766_CHANNEL_NUMBERS"], "Accept channel numbers up to 0x7FFF (RFC 5766 clients such as coturn's).", IsSwitch: true),
        new("--allow-loopback-peers", nameof(RelayOptions.AllowLoopbackPeers), ["ALLOW_LOOPBACK_PEERS"], "Allow relaying to loopback peers (tests and single-machine use only).", IsSwitch: true),
    ];

    public static RelayFlag ForKey(string key) => All.First(f => f.Key == key);

    /// <summary>Creates the System.CommandLine options, one per flag, in table order.</summary>
    public static IReadOnlyList<(RelayFlag Flag, Option Option)> CreateOptions() =>
        All.Select(flag => (flag, flag.IsSwitch
            ? (Option)new Option<bool>(flag.Name) { Description = flag.Help + EnvHelp(flag) }
            : new Option<string>(flag.Name) { Description = flag.Help + EnvHelp(flag) })).ToList();

    private static string EnvHelp(RelayFlag flag) => flag.Environment.Length == 0 ? "" : $" [env: {string.Join(", ", flag.Environment)}]";

    /// <summary>
    /// The configuration values the command line and environment give: for each flag, the command-line value if
    /// present, else the first non-empty environment variable. Flags given nowhere are left out (defaults apply).
    /// </summary>
    public static Dictionary<string, string?> ToConfiguration(
        ParseResult parse, IReadOnlyList<(RelayFlag Flag, Option Option)> options, Func<string, string?> environment)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (flag, option) in options)
        {
            string? value = null;
            if (parse.GetResult(option) is { Implicit: false })
            {
                value = option is Option<bool> switchOption ? parse.GetValue(switchOption) ? "true" : "false" : parse.GetValue((Option<string>)option);
            }

            value ??= flag.Environment.Select(environment).FirstOrDefault(v => !string.IsNullOrEmpty(v));
            if (value is not null)
            {
                values[$"{RelayOptions.Section}:{flag.Key}"] = value;
            }
        }

        return values;
    }
}
