using System.Net;
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
    [InlineData("--allowed-peer-ip", "10.0.0.0/33", "--allowed-peer-ip")]
    [InlineData("--denied-peer-ip", "banana", "--denied-peer-ip")]
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
        Assert.DoesNotContain("   at ", output); // the message alone, no stack trace
        Assert.DoesNotContain("Hosting failed to start", output);
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
    public async Task The_healthcheck_subcommand_reports_the_relay_s_health_by_exit_code()
    {
        using var relay = await RelayProcess.StartLoopbackAsync();
        var (code, output) = await RunAsync(["healthcheck"], new() { ["HEALTH_CHECK_ADDR"] = $"127.0.0.1:{relay.HttpPort}" });
        Assert.True(code == 0, output);

        Assert.Equal(0, await relay.TerminateAsync()); // the port it listened on is closed now
        (code, output) = await RunAsync(["healthcheck", "--url", $"http://127.0.0.1:{relay.HttpPort}/healthz"]);
        Assert.Equal(1, code);
        Assert.Contains($"unhealthy: http://127.0.0.1:{relay.HttpPort}/healthz", output);

        (code, output) = await RunAsync(["healthcheck"], new() { ["HEALTH_CHECK_ADDR"] = "8080" });
        Assert.Equal(1, code);
        Assert.Contains("unhealthy: HEALTH_CHECK_ADDR '8080' is not an address:port", output);
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
        await Eventually.TrueAsync(() => relay.Output.Contains("Test credentials valid for 24 h", StringComparison.Ordinal), "the test credentials");
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

    [Theory]
    [InlineData("--public-ip4-addr", "1.2.3", "'1.2.3' is not an IPv4 address")]
    [InlineData("--public-ip4-addr", "2130706433", "'2130706433' is not an IPv4 address")]
    [InlineData("--public-ip6-addr", "::ffff:127.0.0.1", "is the IPv4 address 127.0.0.1 written as IPv6")]
    public async Task Malformed_addresses_are_refused(string flag, string value, string problem)
    {
        var (code, output) = await RunAsync([flag, value]);
        Assert.Equal(2, code);
        Assert.Contains($"{flag} ", output);
        Assert.Contains(problem, output);

        (code, output) = await RunAsync([], new() { ["PUBLIC_IP4_ADDR"] = "1.2.3" });
        Assert.Equal(2, code);
        Assert.Contains("--public-ip4-addr (PUBLIC_IP4_ADDR): '1.2.3' is not an IPv4 address", output);
    }

    [Fact]
    public async Task A_bad_value_is_reported_once_without_consequences_that_follow_from_it()
    {
        var (code, output) = await RunAsync(["--highest-port", "70000"]);
        Assert.Equal(2, code);
        Assert.Equal(["error: --highest-port (HIGHEST_PORT): '70000' is not a port number (1-65535)"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_references_telemetry_and_worker_thread_flags_start_with_a_warning()
    {
        using var relay = await RelayProcess.StartLoopbackAsync("--telemetry", "--num-worker-threads", "4");
        Assert.Contains("--telemetry (TELEMETRY) is accepted for compatibility with the reference relay and ignored", relay.Output);
        Assert.Contains("--num-worker-threads (NUM_WORKER_THREADS) is accepted for compatibility with the reference relay and ignored", relay.Output);
        Assert.Equal(0, await relay.TerminateAsync());
    }

    [Theory]
    [InlineData("--health-check-addr", "HEALTH_CHECK_ADDR")]
    [InlineData("--control-endpoint", "CONTROL_ENDPOINT")]
    public async Task A_taken_tcp_port_names_its_flag(string flag, string variable)
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var args = new List<string> { "--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1", "--listen-port", "0",
            "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0" };
        args[args.IndexOf(flag) + 1] = $"127.0.0.1:{port}";

        var (code, output) = await RunAsync([.. args]);

        Assert.Equal(2, code);
        Assert.Contains($"error: {flag} ({variable}): cannot listen on 127.0.0.1:{port} (address already in use)", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_up_says_what_listens_where_and_status_reports_the_real_start()
    {
        using var relay = await RelayProcess.StartLoopbackAsync();
        await Eventually.TrueAsync(() => relay.Output.Contains("Admin API on", StringComparison.Ordinal), "the start-up report's last line"); // follows the port lines
        Assert.Matches(@"firezone-relay \S+: standalone mode \(no portal token\), --auth-scheme firezone, data path userspace", relay.Output);
        Assert.Contains($"Listening for STUN/TURN on UDP port {relay.UdpPort} (127.0.0.1:{relay.UdpPort}, [::1]:{relay.UdpPort})", relay.Output);
        Assert.Contains($"Health checks and metrics on http://127.0.0.1:{relay.HttpPort} (/healthz, /readyz, /metrics)", relay.Output);
        Assert.Contains($"Admin API on http://127.0.0.1:{relay.HttpPort} (/admin, Swagger UI at /swagger; no token)", relay.Output);
        Assert.DoesNotContain("Now listening on", relay.Output);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{relay.HttpPort}") };
        DateTimeOffset asked = DateTimeOffset.UtcNow;
        var status = await http.GetFromJsonAsync<JsonElement>("/admin/status");
        DateTimeOffset started = status.GetProperty("startedAt").GetDateTimeOffset();
        Assert.True(started < asked, $"startedAt {started:O} is not before the first status call {asked:O}");
        Assert.Equal(started, (await http.GetFromJsonAsync<JsonElement>("/admin/status")).GetProperty("startedAt").GetDateTimeOffset());

        string metrics = await http.GetStringAsync("/metrics");
        string version = status.GetProperty("version").GetString()!;
        Assert.Contains($"service_version=\"{version}\"", metrics.Split('\n').Single(l => l.StartsWith("target_info{", StringComparison.Ordinal)));
        Assert.Contains("process_cpu_time_seconds_total{", metrics);
        Assert.Contains("process_memory_usage_bytes{", metrics);
        Assert.Contains("dotnet_gc_collections_total{", metrics);
        await relay.TerminateAsync();
    }

    [Fact]
    public async Task A_configuration_file_sets_what_flags_do_and_flags_override_it()
    {
        string file = Path.Combine(Path.GetTempPath(), $"relay-{Guid.NewGuid():N}.conf");
        File.WriteAllLines(file, ["# loopback test relay", "public-ip4-addr=127.0.0.1", "bind-ip4-addr=127.0.0.1", "listen-port=0",
            "health-check-addr=127.0.0.1:0", "control-endpoint=127.0.0.1:0", "realm=from-file", "log-filter=warn"]);
        try
        {
            using var relay = RelayProcess.Start(["--config", file, "--log-filter", "info"]);
            await relay.WaitUntilListeningAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{relay.HttpPort}") };
            var minted = await (await http.PostAsJsonAsync("/admin/credentials", new { salt = "alice" })).Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("from-file", minted.GetProperty("realm").GetString());
            await relay.TerminateAsync();

            File.AppendAllLines(file, ["listen-prot=1"]);
            var (code, output) = await RunAsync(["--config", file]);
            Assert.Equal(2, code);
            Assert.Contains($"{Path.GetFileName(file)} line 9: 'listen-prot' is not a setting", output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("--secret abc", "--secret (RELAY_SECRET): the firezone scheme's secret is 64 hex characters")]
    [InlineData("--secret cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc --salt a:b", "--salt: must not contain ':'")]
    [InlineData("--secret cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc --ttl 1", "--ttl: must be between 60 and 31536000 seconds")]
    [InlineData("--secret short --auth-scheme turn-rest", "--secret (RELAY_SECRET): must be at least 8 characters")]
    public async Task The_credentials_command_refuses_what_the_relay_would(string arguments, string problem)
    {
        var (code, output) = await RunAsync(["credentials", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains("error: " + problem, output);
    }

    [Fact]
    public async Task The_credentials_help_shows_only_its_own_options()
    {
        var (code, output) = await RunAsync(["credentials", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("firezone-relay credentials [options]", output);
        Assert.DoesNotContain("TOKEN", output);
        Assert.DoesNotContain("--listen-port", output);
    }
}
