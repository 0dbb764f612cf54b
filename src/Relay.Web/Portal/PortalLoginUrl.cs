using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Web.Portal;

/// <summary>The portal's relay WebSocket URL and the User-Agent the relay presents.</summary>
public static class PortalLoginUrl
{
    /// <summary>
    /// <c>{ws|wss}://host[:port][/base]/relay/websocket?name=…&amp;ipv4=…&amp;ipv6=…&amp;port=…</c>: http and ws map to ws,
    /// https and wss to wss (anything else throws; settings validation reports it as an --api-url error first).
    /// <c>name</c>, <c>ipv4</c> and <c>ipv6</c> appear only when known; <c>port</c> always does. The token is never
    /// part of the URL (it travels in the X-Authorization header).
    /// </summary>
    public static Uri Build(Uri apiUrl, string? name, IPAddress? ipv4, IPAddress? ipv6, ushort port)
    {
        string scheme = apiUrl.Scheme switch
        {
            "http" or "ws" => "ws",
            "https" or "wss" => "wss",
            _ => throw new ArgumentException($"'{apiUrl}' must use ws, wss, http or https", nameof(apiUrl)),
        };

        var query = new StringBuilder(apiUrl.Query.TrimStart('?'));
        void Add(string key, string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            query.Append(query.Length == 0 ? "" : "&").Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }

        Add("name", name);
        Add("ipv4", ipv4?.ToString());
        Add("ipv6", ipv6?.ToString());
        Add("port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var builder = new UriBuilder(apiUrl)
        {
            Scheme = scheme,
            Port = apiUrl.IsDefaultPort ? -1 : apiUrl.Port,
            Path = apiUrl.AbsolutePath.TrimEnd('/') + "/relay/websocket",
            Query = query.ToString(),
            Fragment = "",
        };
        return builder.Uri;
    }

    /// <summary>The URL with its query string removed (what the logs show).</summary>
    public static string Redact(Uri url) => url.GetLeftPart(UriPartial.Path);
}

/// <summary>
/// <c>{os}/{os version} relay/{version} ({arch}; {kernel})</c>, the shape of the reference relay's User-Agent, e.g.
/// <c>Debian/12 relay/1.0.0 (x86_64; 6.1.0-18-amd64)</c>.
/// </summary>
public static class PortalUserAgent
{
    private static readonly Lazy<string> Current = new(() => Format(OsName(), OsVersion(), RelayVersion(), Architecture(), Kernel()));

    public static string Value => Current.Value;

    public static string Format(string os, string osVersion, string relayVersion, string arch, string kernel) =>
        $"{Clean(os)}/{Clean(osVersion)} relay/{Clean(relayVersion)} ({Clean(arch)}; {Clean(kernel)})";

    /// <summary>Header-safe: printable ASCII only, no parentheses or slashes that would break the shape.</summary>
    private static string Clean(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text.Trim())
        {
            builder.Append(c is >= ' ' and <= '~' and not '(' and not ')' and not '/' and not ';' ? c : '_');
        }

        return builder.Length == 0 ? "unknown" : builder.ToString();
    }

    private static string RelayVersion()
    {
        string? version = typeof(PortalUserAgent).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return version is null ? "0.0.0" : version.Split('+')[0];
    }

    private static string Architecture() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "x86_64",
        System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
        System.Runtime.InteropServices.Architecture.X86 => "x86",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        var other => other.ToString().ToLowerInvariant(),
    };

    private static string OsName() =>
        OsRelease("NAME") ?? (OperatingSystem.IsLinux() ? "Linux" : OperatingSystem.IsMacOS() ? "Mac OS" : OperatingSystem.IsWindows() ? "Windows" : "Unknown");

    private static string OsVersion() => OsRelease("VERSION_ID") ?? Environment.OSVersion.Version.ToString();

    private static string Kernel()
    {
        try
        {
            if (File.Exists("/proc/sys/kernel/osrelease"))
            {
                return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Environment.OSVersion.Version.ToString();
    }

    private static string? OsRelease(string key)
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/etc/os-release"))
            {
                return null;
            }

            foreach (string line in File.ReadLines("/etc/os-release"))
            {
                if (line.StartsWith(key + "=", StringComparison.Ordinal))
                {
                    string value = line[(key.Length + 1)..].Trim().Trim('"', '\'');
                    return value.Length == 0 ? null : value;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
