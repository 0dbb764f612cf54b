using System.Net;
using System.Net.Sockets;
using Relay.Web.Configuration;

namespace Relay.Web.Cloud;

/// <summary>Which cloud's instance metadata service fills the public addresses (LISTEN_ADDRESS_DISCOVERY_METHOD).</summary>
public enum AddressDiscoveryMethod
{
    None,
    GceMetadata,
    AwsEc2Metadata,
}

/// <summary>Which cloud's metadata describes the instance to OpenTelemetry (OTEL_METADATA_DISCOVERY_METHOD).</summary>
public enum TelemetryDiscoveryMethod
{
    None,
    GceMetadata,
}

/// <summary>What the metadata service said: addresses for the families not configured, and resource attributes.</summary>
public sealed record CloudInstance(IPAddress? PublicIp4, IPAddress? PublicIp6, IReadOnlyList<KeyValuePair<string, object>> ResourceAttributes)
{
    public static CloudInstance None { get; } = new(null, null, []);
}

/// <summary>
/// Asks the cloud's instance metadata service, once at start, for the public addresses of a relay on a cloud VM
/// (whose interface holds only a private address) and for the instance's identity. GCE: the metadata server with
/// <c>Metadata-Flavor: Google</c>. AWS: IMDSv2, a session token first, then the metadata with it. A family the
/// instance has no address of (404) is left out; an unreachable service or a malformed answer stops the start with
/// a message naming the setting.
/// </summary>
public static class CloudMetadata
{
    public const string GceEndpoint = "http://metadata.google.internal";
    public const string AwsEndpoint = "http://169.254.169.254";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static CloudInstance Discover(RelaySettings settings)
    {
        if (settings.ListenAddressDiscovery == AddressDiscoveryMethod.None && settings.OtelMetadataDiscovery == TelemetryDiscoveryMethod.None)
        {
            return CloudInstance.None;
        }

        using var http = new HttpClient { Timeout = Timeout };
        return DiscoverAsync(settings, http).GetAwaiter().GetResult();
    }

    private static async Task<CloudInstance> DiscoverAsync(RelaySettings settings, HttpClient http)
    {
        IPAddress? v4 = null, v6 = null;
        string method = Setting.Of(nameof(RelaySettings.ListenAddressDiscovery)).Display;
        switch (settings.ListenAddressDiscovery)
        {
            case AddressDiscoveryMethod.GceMetadata:
                var gce = new GceMetadata(http, settings.MetadataEndpoint ?? new Uri(GceEndpoint), method);
                v4 = settings.PublicIp4 ?? Address(await gce.GetAsync("instance/network-interfaces/0/access-configs/0/external-ip"), AddressFamily.InterNetwork, method);
                v6 = settings.PublicIp6 ?? Address(await gce.GetAsync("instance/network-interfaces/0/ipv6s"), AddressFamily.InterNetworkV6, method);
                break;
            case AddressDiscoveryMethod.AwsEc2Metadata:
                var aws = await AwsMetadata.ConnectAsync(http, settings.MetadataEndpoint ?? new Uri(AwsEndpoint), method);
                v4 = settings.PublicIp4 ?? Address(await aws.GetAsync("latest/meta-data/public-ipv4"), AddressFamily.InterNetwork, method);
                v6 = settings.PublicIp6 ?? Address(await aws.GetAsync("latest/meta-data/ipv6"), AddressFamily.InterNetworkV6, method);
                break;
        }

        if (settings.ListenAddressDiscovery != AddressDiscoveryMethod.None && v4 is null && v6 is null)
        {
            throw new Udp.RelayStartupException($"{method}: the metadata service knows no public address of this instance; give --public-ip4-addr or --public-ip6-addr");
        }

        var attributes = new List<KeyValuePair<string, object>>();
        if (settings.OtelMetadataDiscovery == TelemetryDiscoveryMethod.GceMetadata)
        {
            string otel = Setting.Of(nameof(RelaySettings.OtelMetadataDiscovery)).Display;
            var gce = new GceMetadata(http, settings.MetadataEndpoint ?? new Uri(GceEndpoint), otel);
            string id = await gce.GetAsync("instance/id") ?? throw Missing(otel, "instance/id");
            string name = await gce.GetAsync("instance/name") ?? throw Missing(otel, "instance/name");
            string zonePath = await gce.GetAsync("instance/zone") ?? throw Missing(otel, "instance/zone");
            string zone = zonePath[(zonePath.LastIndexOf('/') + 1)..]; // projects/123/zones/us-east1-b
            attributes.Add(new("service.instance.id", id));
            attributes.Add(new("gcp.gce.instance.name", name));
            attributes.Add(new("cloud.provider", "gcp"));
            attributes.Add(new("cloud.availability_zone", zone));
            // A zone is its region plus "-<letter>": us-east1-b is in us-east1.
            attributes.Add(new("cloud.region", zone.LastIndexOf('-') is > 0 and int dash ? zone[..dash] : zone));
        }

        return new CloudInstance(v4, v6, attributes);
    }

    /// <summary>The settings with the discovered addresses filled in where none was configured.</summary>
    public static RelaySettings Apply(RelaySettings settings, CloudInstance instance) =>
        settings with { PublicIp4 = settings.PublicIp4 ?? instance.PublicIp4, PublicIp6 = settings.PublicIp6 ?? instance.PublicIp6 };

    private static IPAddress? Address(string? text, AddressFamily family, string method)
    {
        if (text is null)
        {
            return null;
        }

        // GCE lists an interface's IPv6 addresses one per line; the first is the one it was given.
        string first = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? string.Empty;
        if (first.Length == 0)
        {
            return null;
        }

        return IPAddress.TryParse(first, out IPAddress? address) && address.AddressFamily == family
            ? address
            : throw new Udp.RelayStartupException($"{method}: the metadata service answered '{first}', which is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
    }

    private static Udp.RelayStartupException Missing(string setting, string path) =>
        new($"{setting}: the metadata service has no {path}");
}
