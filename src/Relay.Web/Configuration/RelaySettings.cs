using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Auth;
using Relay.Web.Logging;
using Relay.Xdp;

namespace Relay.Web.Configuration;

public enum LogFormat
{
    Human,
    Json,
}

/// <summary>
/// The relay's settings, parsed and validated. Built once at start from <see cref="RelayOptions"/>; any problem is
/// reported with the flag (and environment variable) it came from, and the relay refuses to start.
/// </summary>
public sealed record RelaySettings
{
    public IPAddress? PublicIp4 { get; init; }

    public IPAddress? PublicIp6 { get; init; }

    public IPAddress BindIp4 { get; init; } = IPAddress.Any;

    public IPAddress BindIp6 { get; init; } = IPAddress.IPv6Any;

    /// <summary>0 asks the OS for any free port (tests).</summary>
    public ushort ListenPort { get; init; } = 3478;

    public ushort LowestPort { get; init; } = 49152;

    public ushort HighestPort { get; init; } = 65535;

    /// <summary>The portal WebSocket base URL (ws or wss), when a token is configured.</summary>
    public Uri? PortalUrl { get; init; }

    public string? Token { get; init; }

    public string? Name { get; init; }

    public IPEndPoint HealthCheckEndpoint { get; init; } = new(IPAddress.Any, 8080);

    public IPEndPoint ControlEndpoint { get; init; } = new(IPAddress.Loopback, 9999);

    public string? AdminToken { get; init; }

    public LogFormat LogFormat { get; init; }

    public LogFilter LogFilter { get; init; } = LogFilter.Default;

    public ulong? RngSeed { get; init; }

    public Uri? OtlpEndpoint { get; init; }

    public string? EbpfInterface { get; init; }

    public XdpAttachMode EbpfAttachMode { get; init; }

    public IPAddress? EbpfInt4 { get; init; }

    public IPAddress? EbpfInt6 { get; init; }

    public string? RelaySecret { get; init; }

    public AuthScheme AuthScheme { get; init; }

    public string Realm { get; init; } = "firezone";

    public int UserQuota { get; init; } = 100;

    public bool Rfc5766ChannelNumbers { get; init; }

    public bool AllowLoopbackPeers { get; init; }

    public bool PortalMode => Token is not null;

    /// <summary>Parses every option; returns the settings, or null with one message per problem.</summary>
    public static RelaySettings? Parse(RelayOptions o, out List<string> errors)
    {
        var problems = new List<string>();
        void Fail(string key, string reason) => problems.Add($"{RelayFlags.ForKey(key).Display}: {reason}");

        IPAddress? Address(string? text, string key, AddressFamily family, bool allowUnspecified)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            if (!IPAddress.TryParse(text.Trim(), out IPAddress? address) || address.AddressFamily != family)
            {
                Fail(key, $"'{text}' is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
                return null;
            }

            if (!allowUnspecified && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || IsMulticast(address)))
            {
                Fail(key, $"'{text}' cannot be advertised to clients");
                return null;
            }

            return address;
        }

        ushort Port(string text, string key, bool allowZero)
        {
            if (!ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) || (port == 0 && !allowZero))
            {
                Fail(key, $"'{text}' is not a port number ({(allowZero ? 0 : 1)}-65535)");
            }

            return port;
        }

        IPEndPoint Endpoint(string text, string key)
        {
            if (!IPEndPoint.TryParse(text, out IPEndPoint? endpoint) || !text.Contains(':', StringComparison.Ordinal))
            {
                Fail(key, $"'{text}' is not an address:port (e.g. 127.0.0.1:9999 or [::1]:9999)");
                return new IPEndPoint(IPAddress.Loopback, 0);
            }

            return endpoint;
        }

        bool Switch(string text, string key)
        {
            switch (text.Trim().ToLowerInvariant())
            {
                case "true" or "1" or "yes" or "on": return true;
                case "false" or "0" or "no" or "off" or "": return false;
                default:
                    Fail(key, $"'{text}' is not true or false");
                    return false;
            }
        }

        var settings = new RelaySettings
        {
            PublicIp4 = Address(o.PublicIp4Addr, nameof(o.PublicIp4Addr), AddressFamily.InterNetwork, allowUnspecified: false),
            PublicIp6 = Address(o.PublicIp6Addr, nameof(o.PublicIp6Addr), AddressFamily.InterNetworkV6, allowUnspecified: false),
            BindIp4 = Address(o.BindIp4Addr, nameof(o.BindIp4Addr), AddressFamily.InterNetwork, allowUnspecified: true) ?? IPAddress.Any,
            BindIp6 = Address(o.BindIp6Addr, nameof(o.BindIp6Addr), AddressFamily.InterNetworkV6, allowUnspecified: true) ?? IPAddress.IPv6Any,
            ListenPort = Port(o.ListenPort, nameof(o.ListenPort), allowZero: true),
            LowestPort = Port(o.LowestPort, nameof(o.LowestPort), allowZero: false),
            HighestPort = Port(o.HighestPort, nameof(o.HighestPort), allowZero: false),
            Token = string.IsNullOrWhiteSpace(o.Token) ? null : string.Concat(o.Token.Where(c => !char.IsWhiteSpace(c))),
            Name = string.IsNullOrWhiteSpace(o.Name) ? null : o.Name.Trim(),
            HealthCheckEndpoint = Endpoint(o.HealthCheckAddr, nameof(o.HealthCheckAddr)),
            ControlEndpoint = Endpoint(o.ControlEndpoint, nameof(o.ControlEndpoint)),
            AdminToken = string.IsNullOrWhiteSpace(o.AdminToken) ? null : o.AdminToken.Trim(),
            EbpfInt4 = Address(o.EbpfInt4Addr, nameof(o.EbpfInt4Addr), AddressFamily.InterNetwork, allowUnspecified: false),
            EbpfInt6 = Address(o.EbpfInt6Addr, nameof(o.EbpfInt6Addr), AddressFamily.InterNetworkV6, allowUnspecified: false),
            EbpfInterface = string.IsNullOrWhiteSpace(o.EbpfOffloading) ? null : o.EbpfOffloading.Trim(),
            Rfc5766ChannelNumbers = Switch(o.Rfc5766ChannelNumbers, nameof(o.Rfc5766ChannelNumbers)),
            AllowLoopbackPeers = Switch(o.AllowLoopbackPeers, nameof(o.AllowLoopbackPeers)),
        };

        settings = settings with
        {
            LogFormat = o.LogFormat.Trim().ToLowerInvariant() switch
            {
                "human" => LogFormat.Human,
                "json" => LogFormat.Json,
                _ => Invalid(LogFormat.Human, nameof(o.LogFormat), $"'{o.LogFormat}' is not human or json"),
            },
            EbpfAttachMode = o.EbpfAttachMode.Trim().ToLowerInvariant() switch
            {
                "driver" => XdpAttachMode.Driver,
                "generic" => XdpAttachMode.Generic,
                _ => Invalid(XdpAttachMode.Driver, nameof(o.EbpfAttachMode), $"'{o.EbpfAttachMode}' is not driver or generic"),
            },
            AuthScheme = o.AuthScheme.Trim().ToLowerInvariant() switch
            {
                "firezone" => AuthScheme.Firezone,
                "turn-rest" or "turn_rest" or "rest" => AuthScheme.TurnRest,
                _ => Invalid(AuthScheme.Firezone, nameof(o.AuthScheme), $"'{o.AuthScheme}' is not firezone or turn-rest"),
            },
        };

        T Invalid<T>(T fallback, string key, string reason)
        {
            Fail(key, reason);
            return fallback;
        }

        if (!LogFilter.TryParse(o.LogFilter, out LogFilter filter, out string? filterError))
        {
            Fail(nameof(o.LogFilter), filterError!);
        }

        ulong? seed = null;
        if (!string.IsNullOrWhiteSpace(o.RngSeed))
        {
            if (ulong.TryParse(o.RngSeed, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
            {
                seed = value;
            }
            else
            {
                Fail(nameof(o.RngSeed), $"'{o.RngSeed}' is not an unsigned 64-bit integer");
            }
        }

        if (!int.TryParse(o.UserQuota, NumberStyles.None, CultureInfo.InvariantCulture, out int quota))
        {
            Fail(nameof(o.UserQuota), $"'{o.UserQuota}' is not a non-negative integer");
        }

        settings = settings with
        {
            LogFilter = filter ?? LogFilter.Default,
            RngSeed = seed,
            UserQuota = quota,
            Realm = o.Realm.Trim(),
            RelaySecret = string.IsNullOrEmpty(o.RelaySecret) ? null : o.RelaySecret.Trim(),
            OtlpEndpoint = ParseOtlp(o.OtlpGrpcEndpoint, reason => Fail(nameof(o.OtlpGrpcEndpoint), reason)),
            PortalUrl = ParsePortalUrl(o.ApiUrl, reason => Fail(nameof(o.ApiUrl), reason)),
        };

        CheckCombinations(settings, o, Fail);
        errors = problems;
        return problems.Count == 0 ? settings : null;
    }

    private static void CheckCombinations(RelaySettings s, RelayOptions o, Action<string, string> fail)
    {
        if (s.LowestPort > s.HighestPort)
        {
            fail(nameof(o.LowestPort), $"{s.LowestPort} is above --highest-port {s.HighestPort}");
        }

        if (s.ListenPort != 0 && s.ListenPort >= s.LowestPort && s.ListenPort <= s.HighestPort)
        {
            fail(nameof(o.ListenPort), $"{s.ListenPort} lies inside the relay port range {s.LowestPort}-{s.HighestPort}");
        }

        if (s.Realm.Length is 0 or > 127)
        {
            fail(nameof(o.Realm), "must be 1 to 127 characters");
        }

        if (s.RelaySecret is { } secret)
        {
            if (s.AuthScheme == AuthScheme.Firezone && (secret.Length != 64 || !secret.All(Uri.IsHexDigit)))
            {
                fail(nameof(o.RelaySecret), "the firezone scheme's secret is 64 hex characters (32 random bytes)");
            }
            else if (secret.Length < 8)
            {
                fail(nameof(o.RelaySecret), "must be at least 8 characters");
            }
        }

        if (s.Token is not null && s.PortalUrl is null && string.IsNullOrWhiteSpace(o.ApiUrl))
        {
            fail(nameof(o.ApiUrl), "is required when a portal token (FIREZONE_TOKEN) is given");
        }

        if (!IPAddress.IsLoopback(s.ControlEndpoint.Address) && s.AdminToken is null)
        {
            fail(nameof(o.ControlEndpoint), $"{s.ControlEndpoint} is reachable from other hosts: set --admin-token (ADMIN_TOKEN) or bind it to 127.0.0.1");
        }
    }

    /// <summary>http|ws → ws, https|wss → wss (the reference's mapping); anything else is refused.</summary>
    private static Uri? ParsePortalUrl(string? text, Action<string> fail)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out Uri? uri))
        {
            fail($"'{text}' is not an absolute URL");
            return null;
        }

        string? scheme = uri.Scheme switch
        {
            "http" or "ws" => "ws",
            "https" or "wss" => "wss",
            _ => null,
        };
        if (scheme is null)
        {
            fail($"'{text}' must use ws, wss, http or https");
            return null;
        }

        return new UriBuilder(uri) { Scheme = scheme, Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri;
    }

    /// <summary>host:port (http:// is prepended, as the reference does) or a full http(s) URL.</summary>
    private static Uri? ParseOtlp(string? text, Action<string> fail)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        string candidate = text.Contains("://", StringComparison.Ordinal) ? text.Trim() : "http://" + text.Trim();
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.IsDefaultPort && !text.Contains("://", StringComparison.Ordinal))
        {
            fail($"'{text}' is not host:port or an http(s) URL");
            return null;
        }

        return uri;
    }

    private static bool IsMulticast(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? address.IsIPv6Multicast : (address.GetAddressBytes()[0] & 0xF0) == 0xE0;
}
