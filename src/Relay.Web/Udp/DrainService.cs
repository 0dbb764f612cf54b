using Relay.Core.Net;
using Relay.Web.Configuration;

namespace Relay.Web.Udp;

/// <summary>
/// The graceful drain: on SIGTERM (or POST /admin/drain), when --drain-timeout is above 0, /readyz turns 503, new
/// Allocates are refused (508, or 300 to --alternate-server), and the stop waits until the last allocation has
/// ended or the timeout has passed; only then do the UDP sockets close. It drains in the host's "stopping" phase,
/// which runs before any service (the web server included) stops, so /readyz keeps answering while it drains.
/// </summary>
internal sealed partial class DrainService(RelaySettings settings, RelayRuntime runtime, TimeProvider time, ILogger<DrainService> logger) : IHostedLifecycleService
{
    /// <summary>How often the allocation count is read while draining.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (settings.DrainTimeout == 0 || runtime.Engine is null || runtime.ExitCode != 0)
        {
            return; // exit at once: no drain configured, nothing running, or a fatal error is stopping the relay
        }

        TransportAddress? alternate = settings.AlternateServer is { } server ? new TransportAddress(IpAddr.FromIPAddress(server.Address), (ushort)server.Port) : null;
        int remaining = await runtime.InvokeAsync((engine, _) =>
        {
            engine.BeginDrain(alternate);
            return engine.AllocationCount;
        });
        runtime.Draining = true; // after the engine: a 503 from /readyz means new Allocates are refused
        LogDraining(logger, remaining, settings.DrainTimeout, settings.AlternateServer is { } a ? $"300 to {a}" : "508");

        DateTimeOffset deadline = time.GetUtcNow().AddSeconds(settings.DrainTimeout);
        using var timer = new PeriodicTimer(Poll, time);
        while (remaining > 0 && time.GetUtcNow() < deadline && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            remaining = await runtime.InvokeAsync((engine, _) => engine.AllocationCount);
        }

        if (remaining == 0)
        {
            LogDrained(logger);
        }
        else
        {
            LogDrainTimedOut(logger, remaining);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Draining: {Allocations} allocations keep relaying for up to {Seconds} s; new Allocates get {Answer} and /readyz answers 503")]
    private static partial void LogDraining(ILogger logger, int allocations, int seconds, string answer);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Drained: the last allocation has ended")]
    private static partial void LogDrained(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Drain timeout reached with {Allocations} allocation(s) left; they end now")]
    private static partial void LogDrainTimedOut(ILogger logger, int allocations);
}
