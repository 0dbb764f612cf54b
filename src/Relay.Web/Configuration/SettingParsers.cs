using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Relay.Web.Logging;

namespace Relay.Web.Configuration;

/// <summary>Turns a setting's text into its value, or says in one phrase what is wrong with it.</summary>
public interface ISettingParser
{
    /// <summary>A switch: given without a value on the command line, and written true/false elsewhere.</summary>
    bool IsSwitch => false;

    /// <summary>A list: the flag may be repeated and a file may repeat the key; the values join with commas.</summary>
    bool IsRepeatable => false;

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> completes "--flag (ENV): ...".</summary>
    bool TryParse(string text, out object? value, out string? error);
}

/// <summary>A base that keeps parsers one method long.</summary>
public abstract class SettingParser<T> : ISettingParser
{
    public bool TryParse(string text, out object? value, out string? error)
    {
        error = Parse(text.Trim(), out T? parsed);
        value = parsed;
        return error is null;
    }

    /// <summary>Returns null and the value, or the problem.</summary>
    protected abstract string? Parse(string text, out T? value);
}

/// <summary>A UDP port, 1-65535.</summary>
public sealed class PortParser : SettingParser<ushort>
{
    protected override string? Parse(string text, out ushort value) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value != 0 ? null : $"'{text}' is not a port number (1-65535)";
}

/// <summary>A UDP port, or 0 for any free one.</summary>
public sealed class ListenPortParser : SettingParser<ushort>
{
    protected override string? Parse(string text, out ushort value) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) ? null : $"'{text}' is not a port number (0-65535)";
}

/// <summary>A non-negative 32-bit integer.</summary>
public sealed class CountParser : SettingParser<int>
{
    protected override string? Parse(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) ? null : $"'{text}' is not a whole number of 0 or more";
}

/// <summary>
/// Bytes per second: a plain number is bytes (coturn's <c>--max-bps</c> unit); k, M and G (or kB, MB, GB) multiply
/// by 1000s; kbit, Mbit and Gbit are bits. "10Mbit" is 1250000.
/// </summary>
public sealed class BandwidthParser : SettingParser<long>
{
    private static readonly (string Suffix, double Bytes)[] Units =
    [
        ("kbit", 125), ("mbit", 125_000), ("gbit", 125_000_000),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1),
    ];

    protected override string? Parse(string text, out long value)
    {
        value = 0;
        string number = text.Trim();
        double scale = 1;
        foreach ((string suffix, double bytes) in Units)
        {
            if (number.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                number = number[..^suffix.Length].TrimEnd();
                scale = bytes;
                break;
            }
        }

        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double amount)
            || amount * scale > int.MaxValue)
        {
            return $"'{text}' is not a rate such as 1250000 (bytes/s), 1250kB or 10Mbit (at most {int.MaxValue} bytes/s)";
        }

        value = (long)Math.Round(amount * scale);
        return null;
    }
}

/// <summary>An unsigned 64-bit integer.</summary>
public sealed class UInt64Parser : SettingParser<ulong?>
{
    protected override string? Parse(string text, out ulong? value)
    {
        bool ok = ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong parsed);
        value = ok ? parsed : null;
        return ok ? null : $"'{text}' is not an unsigned 64-bit integer";
    }
}

/// <summary>true/false (also 1/0, yes/no, on/off).</summary>
public sealed class SwitchParser : SettingParser<bool>, ISettingParser
{
    public bool IsSwitch => true;

    protected override string? Parse(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                value = true;
                return null;
            case "false" or "0" or "no" or "off" or "":
                value = false;
                return null;
            default:
                value = false;
                return $"'{text}' is not true or false";
        }
    }
}

/// <summary>Text as given, trimmed; empty means unset.</summary>
public sealed class TextParser : SettingParser<string?>
{
    protected override string? Parse(string text, out string? value)
    {
        value = text.Length == 0 ? null : text;
        return null;
    }
}

/// <summary>A token: surrounding and embedded whitespace (line breaks of a pasted token) removed.</summary>
/// <summary>
/// The portal token, or the absolute path of a file holding it (a mounted Kubernetes or Docker secret): a token
/// never starts with '/'. Whitespace (a file's trailing newline) is dropped.
/// </summary>
public sealed class TokenParser : SettingParser<string?>
{
    protected override string? Parse(string text, out string? value)
    {
        value = null;
        string token = text.Trim();
        if (token.StartsWith('/'))
        {
            try
            {
                token = File.ReadAllText(token);
            }
            catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
            {
                return $"names the file '{token}', which cannot be read ({failure.Message.TrimEnd('.')})";
            }
        }

        token = string.Concat(token.Where(c => !char.IsWhiteSpace(c)));
        value = token.Length == 0 ? null : token;
        return null;
    }
}

/// <summary>A STUN realm: 1 to 127 characters (RFC 8489 §14.9).</summary>
public sealed class RealmParser : SettingParser<string>
{
    protected override string? Parse(string text, out string? value)
    {
        value = text;
        return text.Length is >= 1 and <= 127 ? null : "must be 1 to 127 characters";
    }
}

/// <summary>A network interface name (at most 15 characters on Linux).</summary>
public sealed class InterfaceParser : SettingParser<string?>
{
    protected override string? Parse(string text, out string? value)
    {
        value = text.Length == 0 ? null : text;
        return text.Length <= 15 && !text.Any(char.IsWhiteSpace) && !text.Contains('/') ? null : $"'{text}' is not an interface name";
    }
}

/// <summary>
/// IP addresses written the usual way only: IPv4 as four decimal numbers (not "1.2.3", not "2130706433", no
/// leading zeros), IPv6 without a zone and not IPv4-mapped (an IPv4 address belongs in the IPv4 setting).
/// </summary>
public static partial class StrictAddress
{
    public static string? ParseV4(string text, out IPAddress? address)
    {
        address = null;
        if (!DottedQuad().IsMatch(text) || text.Split('.').Any(part => part.Length > 1 && part[0] == '0')
            || !IPAddress.TryParse(text, out address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            address = null;
            return $"'{text}' is not an IPv4 address (four numbers 0-255 separated by dots)";
        }

        return null;
    }

    public static string? ParseV6(string text, out IPAddress? address)
    {
        address = null;
        if (!text.Contains(':') || text.Contains('%') || !IPAddress.TryParse(text, out address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            address = null;
            return $"'{text}' is not an IPv6 address";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            string mapped = address.MapToIPv4().ToString();
            address = null;
            return $"'{text}' is the IPv4 address {mapped} written as IPv6; give it as an IPv4 address";
        }

        return null;
    }

    public static bool IsAdvertisable(IPAddress address) =>
        !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any)
        && !(address.AddressFamily == AddressFamily.InterNetworkV6 ? address.IsIPv6Multicast : (address.GetAddressBytes()[0] & 0xF0) == 0xE0);

    [GeneratedRegex(@"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")]
    private static partial Regex DottedQuad();
}

/// <summary>An IPv4 address clients are told about: not 0.0.0.0, not multicast.</summary>
public sealed class AdvertisedIpv4Parser : SettingParser<IPAddress?>
{
    protected override string? Parse(string text, out IPAddress? value) =>
        StrictAddress.ParseV4(text, out value) ?? (StrictAddress.IsAdvertisable(value!) ? null : Unadvertisable(text, out value));

    internal static string Unadvertisable(string text, out IPAddress? value)
    {
        value = null;
        return $"'{text}' cannot be advertised to clients";
    }
}

/// <summary>An IPv6 address clients are told about: not ::, not multicast.</summary>
public sealed class AdvertisedIpv6Parser : SettingParser<IPAddress?>
{
    protected override string? Parse(string text, out IPAddress? value) =>
        StrictAddress.ParseV6(text, out value) ?? (StrictAddress.IsAdvertisable(value!) ? null : AdvertisedIpv4Parser.Unadvertisable(text, out value));
}

/// <summary>An IPv4 address to bind to (0.0.0.0 allowed).</summary>
public sealed class BindIpv4Parser : SettingParser<IPAddress?>
{
    protected override string? Parse(string text, out IPAddress? value) => StrictAddress.ParseV4(text, out value);
}

/// <summary>An IPv6 address to bind to (:: allowed).</summary>
public sealed class BindIpv6Parser : SettingParser<IPAddress?>
{
    protected override string? Parse(string text, out IPAddress? value) => StrictAddress.ParseV6(text, out value);
}

/// <summary>address:port for a TCP listener, IPv6 in brackets ([::1]:9999).</summary>
public sealed class EndpointParser : SettingParser<IPEndPoint?>
{
    protected override string? Parse(string text, out IPEndPoint? value)
    {
        value = null;
        int colon = text.LastIndexOf(':');
        string host = colon > 0 ? text[..colon] : string.Empty;
        bool bracketed = host.StartsWith('[') && host.EndsWith(']');
        string? error = bracketed ? StrictAddress.ParseV6(host[1..^1], out IPAddress? address) : StrictAddress.ParseV4(host, out address);
        if (colon <= 0 || error is not null || !ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
        {
            return $"'{text}' is not an address:port (e.g. 127.0.0.1:9999 or [::1]:9999)";
        }

        value = new IPEndPoint(address!, port);
        return null;
    }
}

/// <summary>One of an enum's values, written in kebab-case (TurnRest is turn-rest).</summary>
public sealed class ChoiceParser<T> : SettingParser<T>
    where T : struct, Enum
{
    public static string Name(T value) => Regex.Replace(value.ToString(), "(?<=[a-z0-9])([A-Z])", "-$1").ToLowerInvariant();

    public static string Names => string.Join(" or ", Enum.GetValues<T>().Select(Name));

    protected override string? Parse(string text, out T value)
    {
        foreach (T candidate in Enum.GetValues<T>())
        {
            if (string.Equals(Name(candidate), text.Replace('_', '-'), StringComparison.OrdinalIgnoreCase))
            {
                value = candidate;
                return null;
            }
        }

        value = default;
        return $"'{text}' is not {Names}";
    }
}

/// <summary>A log filter in RUST_LOG syntax.</summary>
public sealed class LogFilterParser : SettingParser<LogFilter>
{
    protected override string? Parse(string text, out LogFilter? value) => LogFilter.TryParse(text, out value, out string? error) ? null : error;
}

/// <summary>The portal's URL: http or ws becomes ws, https or wss becomes wss (as the reference maps them).</summary>
public sealed class PortalUrlParser : SettingParser<Uri?>
{
    protected override string? Parse(string text, out Uri? value)
    {
        value = null;
        if (text.Length == 0)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri))
        {
            return $"'{text}' is not an absolute URL";
        }

        string? scheme = uri.Scheme switch { "http" or "ws" => "ws", "https" or "wss" => "wss", _ => null };
        if (scheme is null)
        {
            return $"'{text}' must use ws, wss, http or https";
        }

        value = new UriBuilder(uri) { Scheme = scheme, Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri;
        return null;
    }
}

/// <summary>An OTLP/gRPC collector: host:port (http:// is prepended, as the reference does) or an http(s) URL.</summary>
/// <summary>An http URL (the cloud metadata service, which is never reached over TLS).</summary>
public sealed class MetadataUrlParser : SettingParser<Uri?>
{
    protected override string? Parse(string text, out Uri? value)
    {
        value = null;
        if (text.Length == 0)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme != "http" || uri.PathAndQuery != "/")
        {
            return $"'{text}' is not an http://host[:port] URL";
        }

        value = uri;
        return null;
    }
}

public sealed class OtlpEndpointParser : SettingParser<Uri?>
{
    protected override string? Parse(string text, out Uri? value)
    {
        value = null;
        if (text.Length == 0)
        {
            return null;
        }

        bool hasScheme = text.Contains("://", StringComparison.Ordinal);
        if (!Uri.TryCreate(hasScheme ? text : "http://" + text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || (uri.IsDefaultPort && !hasScheme))
        {
            return $"'{text}' is not host:port or an http(s) URL";
        }

        value = uri;
        return null;
    }
}

/// <summary>CIDR blocks ("10.0.0.0/8", "2001:db8::/32" or a bare address), separated by commas or spaces.</summary>
public sealed class NetworkListParser : SettingParser<IReadOnlyList<Relay.Core.Net.IpNetwork>>, ISettingParser
{
    bool ISettingParser.IsRepeatable => true;

    protected override string? Parse(string text, out IReadOnlyList<Relay.Core.Net.IpNetwork>? value)
    {
        var networks = new List<Relay.Core.Net.IpNetwork>();
        value = networks;
        foreach (string item in text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Relay.Core.Net.IpNetwork.TryParse(item, out var network, out string? error))
            {
                return error;
            }

            networks.Add(network);
        }

        return null;
    }
}

/// <summary>A whole number of seconds between a lower and an upper bound (the RFCs' for protocol lifetimes).</summary>
public abstract class BoundedSecondsParser(int min, int max, string why) : SettingParser<int>
{
    protected override string? Parse(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max
            ? null : $"'{text}' is not between {min} and {max} seconds ({why})";
}

/// <summary>RFC 8656 §7.2: 10 minutes by default; the relay grants no less and at most the maximum.</summary>
public sealed class AllocationLifetimeParser() : BoundedSecondsParser(60, 3600, "RFC 8656 recommends at most 3600");

/// <summary>RFC 8656 §9 fixes 300 s and clients refresh just before; longer only keeps peers open longer.</summary>
public sealed class PermissionLifetimeParser() : BoundedSecondsParser(300, 3600, "clients refresh permissions every 300 s, so less breaks them");

/// <summary>RFC 8656 §12 fixes 600 s and clients refresh just before.</summary>
public sealed class ChannelLifetimeParser() : BoundedSecondsParser(600, 3600, "clients refresh channels every 600 s, so less breaks them");

/// <summary>How long a nonce is good for before a 438 asks for a fresh one.</summary>
public sealed class NonceLifetimeParser() : BoundedSecondsParser(30, 86400, "a nonce must outlive a login and should not live for days");
