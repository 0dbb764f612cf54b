using Relay.Web.Configuration;

namespace Relay.Web.Tests.Configuration;

/// <summary>--config FILE: coturn-style key=value lines, under the environment and the command line.</summary>
public sealed class ConfigurationFileTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"relay-{Guid.NewGuid():N}.conf");

    private static string? NoEnvironment(string name) => null;

    [Fact]
    public void Keys_are_the_flags_names_with_comments_switches_and_quotes()
    {
        File.WriteAllLines(_file, ["# the relay", "listen-port=3479", "  realm = \"example\"  ", "allow-loopback-peers", "--lowest-port=50000", ""]);
        var errors = new List<string>();

        var values = SettingSources.Merge(new Dictionary<string, string>(), _file, NoEnvironment, errors);
        RelaySettings settings = SettingsLoader.Load(values, out errors, out _)!;

        Assert.Empty(errors);
        Assert.Equal(3479, settings.ListenPort);
        Assert.Equal("example", settings.Realm);
        Assert.True(settings.AllowLoopbackPeers);
        Assert.Equal(50000, settings.LowestPort);
    }

    [Fact]
    public void A_list_settings_key_may_repeat_and_a_bad_block_names_its_line()
    {
        File.WriteAllLines(_file, ["allowed-peer-ip=10.41.0.0/16", "allowed-peer-ip = fd41::/16, 192.0.2.7", "denied-peer-ip=8.8.8.0/24"]);
        var errors = new List<string>();

        RelaySettings settings = SettingsLoader.Load(SettingSources.Merge(new Dictionary<string, string>(), _file, NoEnvironment, errors), out errors, out _)!;

        Assert.Empty(errors);
        Assert.Equal(["10.41.0.0/16", "fd41::/16", "192.0.2.7/32"], settings.AllowedPeers.Select(n => n.ToString()));
        Assert.Equal(["8.8.8.0/24"], settings.DeniedPeers.Select(n => n.ToString()));

        File.WriteAllLines(_file, ["allowed-peer-ip=10.41.0.0/16", "allowed-peer-ip=10.1.2.3/8"]);
        SettingsLoader.Load(SettingSources.Merge(new Dictionary<string, string>(), _file, NoEnvironment, errors), out errors, out _);
        string error = Assert.Single(errors);
        Assert.Contains("--allowed-peer-ip (ALLOWED_PEER_IP) in ", error);
        Assert.Contains("line 1 and line 2: '10.1.2.3/8' has bits set after the prefix: did you mean 10.0.0.0/8?", error);
    }

    [Fact]
    public void The_environment_overrides_the_file_and_the_command_line_overrides_both()
    {
        File.WriteAllLines(_file, ["listen-port=1000", "realm=file", "lowest-port=20000"]);
        var errors = new List<string>();

        var values = SettingSources.Merge(new Dictionary<string, string> { ["listen-port"] = "3000" }, _file,
            name => name switch { "LISTEN_PORT" => "2000", "REALM" => "environment", _ => null }, errors);
        RelaySettings settings = SettingsLoader.Load(values, out errors, out _)!;

        Assert.Empty(errors);
        Assert.Equal(3000, settings.ListenPort);
        Assert.Equal("environment", settings.Realm);
        Assert.Equal(20000, settings.LowestPort);
    }

    [Fact]
    public void Mistakes_name_the_file_and_line()
    {
        File.WriteAllLines(_file, ["listen-port=abc", "lisen-port=1", "realm"]);
        var errors = new List<string>();

        var values = SettingSources.Merge(new Dictionary<string, string>(), _file, NoEnvironment, errors);
        SettingsLoader.Load(values, out var loadErrors, out _);
        string name = Path.GetFileName(_file);

        Assert.Equal([$"{name} line 2: 'lisen-port' is not a setting (keys are the flags' names without '--', e.g. listen-port=3478)", $"{name} line 3: realm needs a value (realm=...)"], errors);
        Assert.Equal([$"--listen-port (LISTEN_PORT) in {name} line 1: 'abc' is not a port number (0-65535)"], loadErrors);
    }

    [Fact]
    public void A_missing_file_is_an_error_naming_the_flag()
    {
        var errors = new List<string>();
        SettingSources.Merge(new Dictionary<string, string>(), "/nonexistent/relay.conf", NoEnvironment, errors);
        Assert.StartsWith("--config (RELAY_CONFIG): cannot read '/nonexistent/relay.conf'", Assert.Single(errors));
    }

    public void Dispose() => File.Delete(_file);
}
