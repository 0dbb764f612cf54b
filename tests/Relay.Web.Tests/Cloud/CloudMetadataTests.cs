using System.Net;
using Relay.Web.Cloud;
using Relay.Web.Configuration;
using Relay.Web.Tests.Support;
using Relay.Web.Udp;

namespace Relay.Web.Tests.Cloud;

/// <summary>
/// LISTEN_ADDRESS_DISCOVERY_METHOD and OTEL_METADATA_DISCOVERY_METHOD against a metadata service stub on loopback
/// (never a real metadata address): what the relay advertises and what its telemetry resource says.
/// </summary>
public sealed class CloudMetadataTests
{
    private static readonly Dictionary<string, string> Gce = new()
    {
        ["computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip"] = "203.0.113.7",
        ["computeMetadata/v1/instance/network-interfaces/0/ipv6s"] = "2001:db8:7::1\n2001:db8:7::2\n",
        ["computeMetadata/v1/instance/id"] = "5832583187537235075",
        ["computeMetadata/v1/instance/name"] = "relay-m5k7",
        ["computeMetadata/v1/instance/zone"] = "projects/123456/zones/us-east1-b",
    };

    /// <summary>A relay without public addresses, discovering them from <paramref name="stub"/>.</summary>
    private static RelayFactory Relay(MetadataStub stub, string method, Dictionary<string, string?>? more = null)
    {
        var relay = new RelayFactory(new() { ["listen-address-discovery-method"] = method, ["metadata-endpoint"] = stub.Endpoint.ToString() });
        relay.Settings.Remove("public-ip4-addr");
        relay.Settings.Remove("public-ip6-addr");
        foreach (var (key, value) in more ?? [])
        {
            relay.Settings[key] = value;
        }

        return relay;
    }

    [Fact]
    public async Task Gce_metadata_gives_both_public_addresses()
    {
        await using var stub = await MetadataStub.StartAsync(Gce);
        using var relay = Relay(stub, "gce_metadata");

        Assert.Equal(IPAddress.Parse("203.0.113.7"), relay.Runtime.PublicIp4);
        Assert.Equal(IPAddress.Parse("2001:db8:7::1"), relay.Runtime.PublicIp6); // the interface's first address
        Assert.Empty(stub.Refused);
    }

    [Fact]
    public async Task Aws_imdsv2_gives_the_public_ipv4_and_a_missing_ipv6_is_left_out()
    {
        await using var stub = await MetadataStub.StartAsync(new() { ["latest/meta-data/public-ipv4"] = "198.51.100.9" });
        using var relay = Relay(stub, "aws-ec2-metadata");

        Assert.Equal(IPAddress.Parse("198.51.100.9"), relay.Runtime.PublicIp4);
        Assert.Null(relay.Runtime.PublicIp6);
        Assert.Empty(stub.Refused); // every GET carried the session token
    }

    [Fact]
    public async Task A_configured_address_wins_over_the_metadata()
    {
        await using var stub = await MetadataStub.StartAsync(Gce);
        using var relay = Relay(stub, "gce-metadata", new() { ["public-ip4-addr"] = "192.0.2.50" });

        Assert.Equal(IPAddress.Parse("192.0.2.50"), relay.Runtime.PublicIp4);
        Assert.Equal(IPAddress.Parse("2001:db8:7::1"), relay.Runtime.PublicIp6);
    }

    /// <summary>Settings as the relay loads them, discovering from <paramref name="endpoint"/>.</summary>
    private static RelaySettings Settings(string method, Uri endpoint) =>
        SettingsLoader.Load(new Dictionary<string, SettingValue>
        {
            ["listen-address-discovery-method"] = new(method, null),
            ["metadata-endpoint"] = new(endpoint.ToString(), null),
        }, out var errors, out _) ?? throw new InvalidOperationException(string.Join("; ", errors));

    [Theory]
    [InlineData("gce-metadata")]
    [InlineData("aws-ec2-metadata")]
    public async Task An_instance_without_public_addresses_stops_the_start_naming_the_setting(string method)
    {
        await using var stub = await MetadataStub.StartAsync(new());

        var failure = Assert.Throws<RelayStartupException>(() => CloudMetadata.Discover(Settings(method, stub.Endpoint)));
        Assert.Equal("--listen-address-discovery-method (LISTEN_ADDRESS_DISCOVERY_METHOD): the metadata service knows no public address of this instance; "
            + "give --public-ip4-addr or --public-ip6-addr", failure.Message);
    }

    [Fact]
    public async Task An_unreachable_metadata_service_stops_the_start_with_the_url()
    {
        MetadataStub stub = await MetadataStub.StartAsync(Gce);
        Uri closed = stub.Endpoint;
        await stub.DisposeAsync(); // nothing listens there any more

        var failure = Assert.Throws<RelayStartupException>(() => CloudMetadata.Discover(Settings("gce-metadata", closed)));
        Assert.StartsWith($"--listen-address-discovery-method (LISTEN_ADDRESS_DISCOVERY_METHOD): cannot reach the metadata service at {closed}computeMetadata/v1/", failure.Message);
    }

    [Fact]
    public async Task A_malformed_answer_stops_the_start_quoting_it()
    {
        await using var stub = await MetadataStub.StartAsync(new() { ["computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip"] = "<html>" });

        var failure = Assert.Throws<RelayStartupException>(() => CloudMetadata.Discover(Settings("gce-metadata", stub.Endpoint)));
        Assert.Contains("the metadata service answered '<html>', which is not an IPv4 address", failure.Message);
    }

    [Fact]
    public async Task Gce_instance_identity_goes_into_the_telemetry_resource()
    {
        await using var stub = await MetadataStub.StartAsync(Gce);
        using var relay = new RelayFactory(new() { ["otel-metadata-discovery-method"] = "gce_metadata", ["metadata-endpoint"] = stub.Endpoint.ToString() });
        using var http = relay.CreateClient();

        string scrape = await http.GetStringAsync("/metrics");

        string targetInfo = scrape.Split('\n').Single(l => l.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Contains("service_instance_id=\"5832583187537235075\"", targetInfo);
        Assert.Contains("gcp_gce_instance_name=\"relay-m5k7\"", targetInfo);
        Assert.Contains("cloud_availability_zone=\"us-east1-b\"", targetInfo);
        Assert.Contains("cloud_region=\"us-east1\"", targetInfo);
        Assert.Contains("cloud_provider=\"gcp\"", targetInfo);
    }
}
