using System.Net.Http.Json;
using System.Text.Json;
using Relay.Core.Auth;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>The built binary's command line: bad input exits non-zero naming the flag; signals stop it cleanly.</summary>
public class CommandLineTests
{
    private static async Task<(int Code, string Output)> RunAsync(string[] args, Dictionary<string, string>? environment = null)
    {
        using var relay = RelayProcess.Start(args, environment);
        int code = await relay.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (code, relay.Output);
    }

    [Theory]
    [InlineData("--listen-port", "x", "--listen-port")]
    [InlineData("--listen-port", "70000", "--listen-port")]
    [InlineData("--public-ip4-addr", "::1", "--public-ip4-addr")]
    [InlineData("--auth-scheme", "ldap", "--auth-scheme")]
    [InlineData("--log-format", "xml", "--log-format")]
    [InlineData("--log-filter", "relay=loud", "--log-filter")]
    [InlineData("--ebpf-attach-mode", "turbo", "--ebpf-attach-mode")]
    [InlineData("--relay-secret", "not-hex", "--relay-secret")]
    [InlineData("--health-check-addr", "8080", "--health-check-addr")]
    [InlineData("--rng-seed", "-1", "--rng-seed")]
    public async Task A_bad_value_exits_non_zero_naming_the_flag(string flag, string value, string named)
    {
        var (code, output) = await RunAsync([flag, value]);
        Assert.NotEqual(0, code);
        Assert.Contains(named, output);
    }

    [Fact]
    public async Task An_unknown_flag_exits_non_zero_naming_it()
    {
        var (code, output) = await RunAsync(["--listen-prot", "3478"]);
        Assert.NotEqual(0, code);
        Assert.Contains("--listen-prot", output);
    }

    [Fact]
    public async Task Every_problem_is_listed_at_once()
    {
        var (code, output) = await RunAsync(["--lowest-port", "60000", "--highest-port", "50000", "--realm", ""]);
        Assert.Equal(2, code);
        Assert.Contains("error: --lowest-port (LOWEST_PORT): 60000 is above --highest-port 50000", output);
        Assert.Contains("--realm", output);
    }

    [Fact]
    public async Task Environment_variables_are_named_in_errors_and_flags_win_over_them()
    {
        var (code, output) = await RunAsync([], new() { ["LISTEN_PORT"] = "abc" });
        Assert.Equal(2, code);
        Assert.Contains("--listen-port (LISTEN_PORT): 'abc' is not a port number", output);

        // The flag overrides the broken environment value, so the relay starts.
        using var relay = RelayProcess.Start(["--listen-port", "0", "--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1",
            "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0", "--log-filter", "info"], new() { ["LISTEN_PORT"] = "abc" });
        await relay.WaitUntilListeningAsync();
        Assert.Equal(0, await relay.TerminateAsync());
    }

    [Fact]
    public async Task A_control_endpoint_open_to_the_network_requires_an_admin_token()
    {
        var (code, output) = await RunAsync(["--control-endpoint", "0.0.0.0:9999"]);
        Assert.Equal(2, code);
        Assert.Contains("--admin-token", output);
    }

    [Fact]
    public async Task A_portal_token_needs_a_usable_api_url()
    {
        var (code, output) = await RunAsync(["--api-url", "ftp://portal"], new() { ["FIREZONE_TOKEN"] = "t" });
        Assert.Equal(2, code);
        Assert.Contains("--api-url (FIREZONE_API_URL): 'ftp://portal' must use ws, wss, http or https", output);
        (code, output) = await RunAsync([], new() { ["FIREZONE_TOKEN"] = "t" });
        Assert.Equal(2, code);
        Assert.Contains("--api-url (FIREZONE_API_URL): is required", output);
    }

    [Fact]
    public async Task A_taken_listen_port_stops_the_relay_with_a_clear_message()
    {
        using var first = await RelayProcess.StartLoopbackAsync();
        var (code, output) = await RunAsync(["--listen-port", first.UdpPort.ToString(), "--lowest-port", "20000", "--highest-port", "20100", "--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1",
            "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0"]);
        Assert.Equal(2, code);
        Assert.Contains($"cannot bind UDP 127.0.0.1:{first.UdpPort}", output);
        Assert.Contains("--listen-port", output);
    }

    [Fact]
    public async Task Help_lists_every_flag_with_its_environment_variable()
    {
        var (code, output) = await RunAsync(["--help"]);
        Assert.Equal(0, code);
        foreach (string expected in new[] { "--public-ip4-addr", "PUBLIC_IP4_ADDR", "--ebpf-offloading", "RUST_LOG", "LOG_FILTER", "--rfc5766-channel-numbers", "credentials" })
        {
            Assert.Contains(expected, output);
        }
    }

    [Fact]
    public async Task Sigterm_shuts_down_cleanly_with_exit_code_zero()
    {
        using var relay = await RelayProcess.StartLoopbackAsync();
        using var http = new HttpClient();
        var status = await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{relay.HttpPort}/readyz");
        Assert.Equal("ready", status.GetProperty("status").GetString());

        Assert.Equal(0, await relay.TerminateAsync());
        Assert.Contains("UDP data plane stopped; all sockets closed", relay.Output);
    }

    [Fact]
    public async Task Json_log_format_writes_one_json_object_per_line()
    {
        using var relay = await RelayProcess.StartLoopbackAsync("--log-format", "json");
        await relay.TerminateAsync();
        var lines = relay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length > 3, relay.Output);
        foreach (string line in lines)
        {
            var entry = JsonDocument.Parse(line).RootElement;
            Assert.True(entry.TryGetProperty("Timestamp", out _));
            Assert.True(entry.TryGetProperty("LogLevel", out _));
            Assert.True(entry.TryGetProperty("Category", out _));
        }

        Assert.Contains(lines, l => l.Contains("\"Port\":", StringComparison.Ordinal) && l.Contains("Listening for STUN/TURN", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Standalone_mode_logs_test_credentials_that_the_relay_accepts()
    {
        using var relay = await RelayProcess.StartLoopbackAsync("--relay-secret", new string('a', 64));
        await Task.Delay(200);
        var match = System.Text.RegularExpressions.Regex.Match(relay.Output, @"username (\S+) password (\S+)");
        Assert.True(match.Success, relay.Output);
        string username = match.Groups[1].Value;
        ulong expiry = ulong.Parse(username.Split(':')[0]);
        Assert.Equal(FirezoneCredentials.GeneratePassword(new string('a', 64), expiry, username.Split(':')[1]), match.Groups[2].Value);
        Assert.DoesNotContain(new string('a', 64), relay.Output); // the secret itself is never logged
        await relay.TerminateAsync();
    }

    [Fact]
    public async Task The_credentials_subcommand_mints_what_the_relay_accepts()
    {
        string secret = new('b', 64);
        var (code, output) = await RunAsync(["credentials", "--secret", secret, "--salt", "abc", "--ttl", "120", "--json"]);
        Assert.Equal(0, code);
        var minted = JsonDocument.Parse(output.Trim()).RootElement;
        string username = minted.GetProperty("username").GetString()!;
        Assert.EndsWith(":abc", username);
        ulong expiry = ulong.Parse(username.Split(':')[0]);
        Assert.InRange((long)expiry - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 100, 125);
        Assert.Equal(FirezoneCredentials.GeneratePassword(secret, expiry, "abc"), minted.GetProperty("password").GetString());
        Assert.Equal("firezone", minted.GetProperty("realm").GetString());

        (code, output) = await RunAsync(["credentials", "--secret", "interop-secret", "--auth-scheme", "turn-rest", "--user", "alice"]);
        Assert.Equal(0, code);
        string restUser = System.Text.RegularExpressions.Regex.Match(output, "username: (\\S+)").Groups[1].Value;
        Assert.Contains($"password: {TurnRestCredentials.GeneratePassword("interop-secret", restUser)}", output);

        (code, output) = await RunAsync(["credentials"]);
        Assert.Equal(2, code);
        Assert.Contains("--secret (RELAY_SECRET) is required", output);
    }
}
