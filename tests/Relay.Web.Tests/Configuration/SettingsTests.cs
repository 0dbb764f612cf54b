using System.Net;
using Relay.Core.Auth;
using Relay.TestSupport;
using Relay.Web.Configuration;

namespace Relay.Web.Tests.Configuration;

/// <summary>Each setting's parsing and each rule between settings, in process.</summary>
public sealed class SettingsTests
{
    private static RelaySettings? Load(out List<string> errors, out List<string> warnings, params (string Key, string Text)[] values) =>
        SettingsLoader.Load(values.ToDictionary(v => v.Key, v => new SettingValue(v.Text, null)), out errors, out warnings);

    private static List<string> Errors(params (string Key, string Text)[] values)
    {
        Load(out var errors, out _, values);
        return errors;
    }

    [Fact]
    public void Defaults_come_from_the_definitions()
    {
        RelaySettings settings = Load(out var errors, out var warnings)!;

        Assert.Empty(errors);
        Assert.Empty(warnings);
        Assert.Equal(3478, settings.ListenPort);
        Assert.Equal(49152, settings.LowestPort);
        Assert.Equal(65535, settings.HighestPort);
        Assert.Equal(IPAddress.Any, settings.BindIp4);
        Assert.Equal(IPAddress.IPv6Any, settings.BindIp6);
        Assert.Equal("firezone", settings.Realm);
        Assert.Equal(AuthScheme.Firezone, settings.AuthScheme);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 8080), settings.HealthCheckEndpoint);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9999), settings.ControlEndpoint);
        Assert.Equal(100, settings.UserQuota);
        Assert.Equal(0, settings.MaxAllocations);
        Assert.Equal((600, 3600, 300, 600, 600), (settings.AllocationLifetime, settings.MaxAllocationLifetime, settings.PermissionLifetime, settings.ChannelLifetime, settings.NonceLifetime));
        Assert.Equal(256, settings.MaxPermissionsPerAllocation);
        Assert.Equal(256, settings.MaxChannelsPerAllocation);
        Assert.Equal(100, settings.UnauthenticatedRate);
        Assert.False(settings.NoSoftware);
        Assert.False(settings.AllowPrivatePeers);
        Assert.Empty(settings.AllowedPeers);
        Assert.Empty(settings.DeniedPeers);
        Assert.Equal("info", settings.LogFilter.Text);
        Assert.False(settings.PortalMode);
    }

    [Theory]
    [InlineData("1.2.3")]
    [InlineData("2130706433")]
    [InlineData("01.2.3.4")]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("::1")]
    public void Ipv4_addresses_are_four_decimal_numbers(string text)
    {
        Assert.Equal([$"--public-ip4-addr (PUBLIC_IP4_ADDR): '{text}' is not an IPv4 address (four numbers 0-255 separated by dots)"],
            Errors(("public-ip4-addr", text)));
    }

    [Fact]
    public void An_ipv4_mapped_ipv6_address_is_named_for_what_it_is()
    {
        Assert.Equal(["--public-ip6-addr (PUBLIC_IP6_ADDR): '::ffff:127.0.0.1' is the IPv4 address 127.0.0.1 written as IPv6; give it as an IPv4 address"],
            Errors(("public-ip6-addr", "::ffff:127.0.0.1")));
    }

    [Theory]
    [InlineData("public-ip6-addr", "fe80::1%eth0", "is not an IPv6 address")]
    [InlineData("public-ip6-addr", "1.2.3.4", "is not an IPv6 address")]
    [InlineData("public-ip4-addr", "0.0.0.0", "cannot be advertised to clients")]
    [InlineData("public-ip4-addr", "224.0.0.1", "cannot be advertised to clients")]
    [InlineData("public-ip6-addr", "::", "cannot be advertised to clients")]
    [InlineData("health-check-addr", "8080", "is not an address:port")]
    [InlineData("control-endpoint", "localhost:9999", "is not an address:port")]
    [InlineData("control-endpoint", "::1:9999", "is not an address:port")]
    [InlineData("listen-port", "70000", "is not a port number (0-65535)")]
    [InlineData("lowest-port", "0", "is not a port number (1-65535)")]
    [InlineData("user-quota", "-1", "is not a whole number of 0 or more")]
    [InlineData("auth-scheme", "ldap", "is not firezone or turn-rest")]
    [InlineData("ebpf-attach-mode", "turbo", "is not driver or generic")]
    [InlineData("log-format", "xml", "is not human or json")]
    [InlineData("allow-loopback-peers", "maybe", "is not true or false")]
    [InlineData("realm", "", "must be 1 to 127 characters")]
    [InlineData("api-url", "ftp://portal", "must use ws, wss, http or https")]
    [InlineData("otlp-grpc-endpoint", "collector", "is not host:port or an http(s) URL")]
    [InlineData("ebpf-offloading", "eth 0", "is not an interface name")]
    [InlineData("rng-seed", "-1", "is not an unsigned 64-bit integer")]
    [InlineData("max-channels-per-allocation", "0", "must be at least 1")]
    [InlineData("permission-lifetime", "60", "is not between 300 and 3600 seconds (clients refresh permissions every 300 s")]
    [InlineData("channel-lifetime", "7200", "is not between 600 and 3600 seconds")]
    [InlineData("max-allocation-lifetime", "86400", "is not between 60 and 3600 seconds (RFC 8656 recommends at most 3600)")]
    [InlineData("nonce-lifetime", "5", "is not between 30 and 86400 seconds")]
    [InlineData("max-permissions-per-allocation", "0", "must be at least 1")]
    [InlineData("unauthenticated-rate", "fast", "is not a whole number of 0 or more")]
    [InlineData("allowed-peer-ip", "10.0.0.0/8,192.168.1.1/16", "did you mean 192.168.0.0/16?")]
    [InlineData("listen-address-discovery-method", "azure", "is not none or gce-metadata or aws-ec2-metadata")]
    [InlineData("metadata-endpoint", "https://169.254.169.254", "is not an http://host[:port] URL")]
    [InlineData("max-bps", "10 Mbps", "is not a rate such as 1250000 (bytes/s), 1250kB or 10Mbit")]
    [InlineData("max-bps", "-5", "is not a rate")]
    [InlineData("max-bps", "100Gbit", "at most 2147483647 bytes/s")]
    public void A_bad_value_names_its_setting_and_the_problem(string key, string text, string problem)
    {
        string error = Assert.Single(Errors((key, text)));
        Assert.StartsWith($"--{key} ", error);
        Assert.Contains(problem, error);
    }

    [Theory]
    [InlineData("bind-ip4-addr", "0.0.0.0")]
    [InlineData("bind-ip6-addr", "::")]
    [InlineData("control-endpoint", "[::1]:9999")]
    [InlineData("auth-scheme", "turn_rest")]
    [InlineData("allow-loopback-peers", "yes")]
    [InlineData("allowed-peer-ip", "10.41.0.0/16, fd41::/16 192.0.2.7")]
    [InlineData("denied-peer-ip", "")]
    public void Good_values_parse(string key, string text) => Assert.Empty(Errors((key, text)));

    [Fact]
    public void The_portal_token_may_be_read_from_a_file()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "SFMyNTY.token-from-a-secret\n");
            RelaySettings? settings = Load(out var errors, out _, ("token", file), ("api-url", "wss://api.firezone.dev"));
            Assert.Empty(errors);
            Assert.Equal("SFMyNTY.token-from-a-secret", settings!.Token);
        }
        finally
        {
            File.Delete(file);
        }

        string error = Assert.Single(Errors(("token", file), ("api-url", "wss://api.firezone.dev")));
        Assert.StartsWith($"--token (FIREZONE_TOKEN): names the file '{file}', which cannot be read", error);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1250000", 1_250_000)]
    [InlineData("1250kB", 1_250_000)]
    [InlineData("10Mbit", 1_250_000)]
    [InlineData("1.5 MB", 1_500_000)]
    [InlineData("64kbit", 8000)]
    [InlineData("2G", 2_000_000_000)]
    public void Bandwidth_is_bytes_per_second_with_optional_units(string text, long bytesPerSecond)
    {
        RelaySettings? settings = Load(out var errors, out _, ("max-bps", text));
        Assert.Empty(errors);
        Assert.Equal(bytesPerSecond, settings!.MaxBps);
    }

    [Fact]
    public void Only_the_root_cause_is_reported()
    {
        // 70000 does not parse, so the range rule that reads --highest-port does not run on a default in its place.
        Assert.Equal(["--highest-port (HIGHEST_PORT): '70000' is not a port number (1-65535)"], Errors(("highest-port", "70000")));
        Assert.Equal(["--auth-scheme (AUTH_SCHEME): 'x' is not firezone or turn-rest"], Errors(("auth-scheme", "x"), ("relay-secret", "short")));
    }

    [Fact]
    public void The_maximum_allocation_lifetime_cannot_be_below_the_default() =>
        Assert.Equal(["--max-allocation-lifetime (MAX_ALLOCATION_LIFETIME): 900 is below --allocation-lifetime 1200"],
            Errors(("allocation-lifetime", "1200"), ("max-allocation-lifetime", "900")));

    [Fact]
    public void The_relay_port_range_must_be_ordered_and_leave_out_the_listen_port()
    {
        Assert.Equal(["--lowest-port (LOWEST_PORT): 60000 is above --highest-port 50000"], Errors(("lowest-port", "60000"), ("highest-port", "50000")));
        Assert.Equal(["--listen-port (LISTEN_PORT): 50000 lies inside the relay port range 49152-65535"], Errors(("listen-port", "50000")));
        Assert.Empty(Errors(("listen-port", "0"), ("lowest-port", "1"), ("highest-port", "65535")));
    }

    [Fact]
    public void The_secret_must_fit_the_scheme()
    {
        Assert.Equal(["--relay-secret (RELAY_SECRET): the firezone scheme's secret is 64 hex characters (32 random bytes)"], Errors(("relay-secret", "abc")));
        Assert.Equal(["--relay-secret (RELAY_SECRET): must be at least 8 characters"], Errors(("auth-scheme", "turn-rest"), ("relay-secret", "abc")));
        Assert.Empty(Errors(("auth-scheme", "turn-rest"), ("relay-secret", "interop-secret")));
        Assert.Empty(Errors(("relay-secret", new string('a', 64))));
    }

    [Fact]
    public void A_portal_token_needs_the_portal_url()
    {
        Assert.Equal(["--api-url (FIREZONE_API_URL): is required when a portal token (FIREZONE_TOKEN) is given"], Errors(("token", "t")));
        RelaySettings settings = Load(out _, out _, ("token", " ab\ncd "), ("api-url", "https://api.example.com"))!;
        Assert.Equal("abcd", settings.Token);
        Assert.Equal(new Uri("wss://api.example.com"), settings.PortalUrl);
    }

    [Fact]
    public void An_admin_api_open_to_the_network_needs_a_token()
    {
        Assert.Equal(["--control-endpoint (CONTROL_ENDPOINT): 0.0.0.0:9999 is reachable from other hosts: set --admin-token (ADMIN_TOKEN) or bind it to 127.0.0.1"],
            Errors(("control-endpoint", "0.0.0.0:9999")));
        Assert.Empty(Errors(("control-endpoint", "0.0.0.0:9999"), ("admin-token", "t0k3n")));
    }

    [Fact]
    public void The_references_flags_that_do_not_apply_are_accepted_with_a_warning()
    {
        RelaySettings? settings = Load(out var errors, out var warnings, ("telemetry", "true"), ("num-worker-threads", "4"));

        Assert.NotNull(settings);
        Assert.Empty(errors);
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Contains("accepted for compatibility with the reference relay and ignored", w));
    }

    [Fact]
    public void An_unknown_key_is_an_error() => Assert.Equal(["configuration: 'listen-prot' is not a setting (see firezone-relay --help)"], Errors(("listen-prot", "1")));

    [Fact]
    public void Every_setting_has_help_and_its_own_names()
    {
        Assert.All(Setting.All, s => Assert.False(string.IsNullOrWhiteSpace(ConfigurationReference.Describe(s)), s.Flag));
        Assert.Equal(Setting.All.Count, Setting.All.Select(s => s.Flag).Distinct().Count());
        Assert.Equal(Setting.All.Sum(s => s.Environment.Length), Setting.All.SelectMany(s => s.Environment).Distinct().Count());
        Assert.All(Setting.All.Where(s => s.Default is not null), s => Assert.True(s.Parser.TryParse(s.Default!, out _, out _), s.Flag));
    }
}
