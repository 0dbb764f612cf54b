using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Relay.Core.FastPath;
using Relay.TestSupport;
using Relay.Web.Tests.Portal;
using Relay.Web.Udp;

namespace Relay.Web.Tests.Support;

/// <summary>
/// The real relay host in-process: HTTP through the test server, UDP on real loopback sockets (listen port 0, so
/// parallel hosts never collide). Time is a <see cref="FakeTimeProvider"/> so expiry can be tested without waiting.
/// </summary>
public sealed class RelayFactory : WebApplicationFactory<Program>
{
    public const string Secret = UdpTurnClient.DefaultSecret;

    private static int _nextRange;

    public RelayFactory(Dictionary<string, string?>? overrides = null)
    {
        // Each host gets its own slice of 61000-65000 for allocations, outside Linux's ephemeral range.
        int slice = Interlocked.Increment(ref _nextRange) % 40;
        Settings = new Dictionary<string, string?>
        {
            ["public-ip4-addr"] = "127.0.0.1",
            ["public-ip6-addr"] = "::1",
            ["bind-ip4-addr"] = "127.0.0.1",
            ["bind-ip6-addr"] = "::1",
            ["listen-port"] = "0",
            // The test server replaces Kestrel; port 0 keeps the pre-start check off ports another relay may hold.
            ["health-check-addr"] = "127.0.0.1:0",
            ["control-endpoint"] = "127.0.0.1:0",
            ["lowest-port"] = (61000 + (slice * 100)).ToString(),
            ["highest-port"] = (61000 + (slice * 100) + 99).ToString(),
            ["relay-secret"] = Secret,
            ["allow-loopback-peers"] = "true",
            ["log-filter"] = "warn",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            Settings[key] = value;
        }
    }

    public Dictionary<string, string?> Settings { get; }

    /// <summary>Configuration outside the Relay section (OTEL_* variables and the like).</summary>
    public Dictionary<string, string?> HostSettings { get; } = new();

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>A fast path to run the data plane with instead of none (set before the host starts).</summary>
    public IFastPath? FastPath { get; set; }

    /// <summary>Receives every log line when set (before the host starts); mind the LogFilter setting.</summary>
    public LogCapture? Logs { get; set; }

    public RelayRuntime Runtime => Services.GetRequiredService<RelayRuntime>();

    public IPEndPoint ListenV4 => new(IPAddress.Loopback, Runtime.ListenPort);

    public IPEndPoint ListenV6 => new(IPAddress.IPv6Loopback, Runtime.ListenPort);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting($"Relay:{key}", value);
        }

        foreach (var (key, value) in HostSettings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(Time);
            if (FastPath is { } fastPath)
            {
                services.RemoveAll<IFastPathFactory>();
                services.AddSingleton<IFastPathFactory>(new FixedFastPath(fastPath));
            }
        });
        if (Logs is { } logs)
        {
            builder.ConfigureLogging(logging => logging.AddProvider(logs));
        }
    }

    private sealed class FixedFastPath(IFastPath fastPath) : IFastPathFactory
    {
        public IFastPath Create(ushort listenPort, IPAddress? publicV4, IPAddress? publicV6) => fastPath;
    }

    /// <summary>Moves time forward and lets the data plane act on it (expiries) before returning.</summary>
    public async Task AdvanceAsync(TimeSpan span)
    {
        Time.Advance(span);
        await Runtime.InvokeAsync((engine, now) => engine.PollTimeout()); // wakes the loop; it runs its timers next round
        await Runtime.InvokeAsync((engine, now) => 0);
    }
}
