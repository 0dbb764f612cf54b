using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Relay.Web.Portal;
using Relay.Web.Tests.Support;
using Relay.Web.Udp;

namespace Relay.Web.Tests.Portal;

/// <summary>
/// A relay host in portal mode pointed at a <see cref="FakePortal"/>, with fake time, captured logs and the portal
/// client's observable state. References are taken at start, so they stay usable after a fatal exit stops the host.
/// </summary>
public sealed class PortalRelay : IAsyncDisposable
{
    public const string Token = "tok-3f9a1c-never-log-me";

    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(3);

    private readonly RelayFactory _base;
    private readonly WebApplicationFactory<Program> _factory;

    private PortalRelay(RelayFactory relay, WebApplicationFactory<Program> factory, LogCapture logs)
    {
        _base = relay;
        _factory = factory;
        Logs = logs;
        Runtime = factory.Services.GetRequiredService<RelayRuntime>();
        Status = factory.Services.GetRequiredService<PortalStatus>();
        Lifetime = factory.Services.GetRequiredService<IHostApplicationLifetime>();
        Http = factory.CreateClient();
    }

    public FakeTimeProvider Time => _base.Time;

    public RelayRuntime Runtime { get; }

    public PortalStatus Status { get; }

    public IHostApplicationLifetime Lifetime { get; }

    public LogCapture Logs { get; }

    public HttpClient Http { get; }

    public IPEndPoint ListenV4 => new(IPAddress.Loopback, Runtime.ListenPort);

    /// <summary>Starts the relay (token <see cref="Token"/> unless overridden); it connects to the portal as it starts.</summary>
    public static PortalRelay Start(FakePortal portal, Dictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["token"] = Token,
            ["api-url"] = portal.ApiUrl.ToString(),
            ["log-filter"] = "warn,phoenix_channel=trace",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        var logs = new LogCapture();
        var relay = new RelayFactory(settings);
        var factory = relay.WithWebHostBuilder(builder => builder.ConfigureLogging(logging => logging.AddProvider(logs)));

        // A fatal answer could stop the host before the services are in hand: hold the portal until they are.
        portal.Pause();
        try
        {
            return new PortalRelay(relay, factory, logs);
        }
        finally
        {
            portal.Resume();
        }
    }

    public async Task<HttpStatusCode> ReadyzAsync() => (await Http.GetAsync("/readyz")).StatusCode;

    /// <summary>Polls (real time, bounded) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }

    public async Task WaitForStateAsync(PortalState state)
    {
        try
        {
            await WaitUntilAsync(() => Status.State == state, $"the portal state is {state}");
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message} It is {Status.State}; last error: {Status.LastError}; exit: {Runtime.ExitReason}", timeout);
        }
    }

    /// <summary>Waits until the client is waiting to retry, returns the delay it chose, and (optionally) advances fake time by exactly that much.</summary>
    public async Task<TimeSpan> NextRetryDelayAsync(bool advance = true)
    {
        // A retry scheduled earlier is no longer in the future once time has been advanced to it.
        await WaitUntilAsync(() => Status.NextAttemptAt > Time.GetUtcNow() || Runtime.ExitCode != 0, "the portal client schedules a retry");
        if (Status.NextAttemptAt is not { } at)
        {
            throw new InvalidOperationException($"The relay exited instead of retrying: {Runtime.ExitReason}");
        }

        TimeSpan delay = at - Time.GetUtcNow();
        if (advance)
        {
            Time.Advance(delay);
        }

        return delay;
    }

    /// <summary>Waits for the fatal exit the portal client requests, and for the host to begin stopping.</summary>
    public async Task WaitForExitAsync()
    {
        await WaitUntilAsync(() => Runtime.ExitCode != 0, $"the relay requests an exit (portal state {Status.State}, last error {Status.LastError})");
        await WaitUntilAsync(() => Lifetime.ApplicationStopping.IsCancellationRequested, "the host stops");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
        await _base.DisposeAsync();
    }
}

/// <summary>Collects every log line (category, level, formatted message) the host writes.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, string Message)> _entries = new();

    public IReadOnlyList<(string Category, LogLevel Level, string Message)> Entries => _entries.ToArray();

    public string All => string.Join(Environment.NewLine, _entries.Select(e => $"{e.Level} {e.Category}: {e.Message}"));

    public bool Contains(LogLevel level, string text) => _entries.Any(e => e.Level == level && e.Message.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((category, logLevel, formatter(state, exception) + (exception is null ? "" : " " + exception)));
    }
}
