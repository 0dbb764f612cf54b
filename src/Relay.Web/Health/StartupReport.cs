using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Relay.Core.Auth;
using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Health;

/// <summary>The relay's version, as builds stamp it (InformationalVersion); /admin/status and target_info both show it.</summary>
public static class RelayVersion
{
    public static string Current { get; } =
        typeof(RelayVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}

/// <summary>The HTTP listeners as Kestrel bound them (the real port when the setting said 0).</summary>
public sealed class HttpListeners
{
    public ListenOptions? Health { get; set; }

    public ListenOptions? Control { get; set; }

    public IPEndPoint? HealthEndpoint => Health?.IPEndPoint;

    /// <summary>The control plane's listener; the health listener when both settings name one address.</summary>
    public IPEndPoint? ControlEndpoint => (Control ?? Health)?.IPEndPoint;
}

/// <summary>
/// Once the listeners are bound, says what listens where: the version, mode and auth scheme, the health and
/// metrics listener and the admin API (the UDP data plane reports its own addresses as it binds them).
/// </summary>
internal sealed partial class StartupReport(
    IHostApplicationLifetime lifetime, HttpListeners listeners, RelaySettings settings, RelayRuntime runtime, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Report);
        return Task.CompletedTask;
    }

    private void Report()
    {
        if (runtime.ExitCode != 0)
        {
            return; // starting failed; the relay is about to exit with that message
        }

        LogVersion(logger, RelayVersion.Current, settings.PortalMode ? $"portal mode ({settings.PortalUrl})" : "standalone mode (no portal token)",
            ChoiceParser<AuthScheme>.Name(settings.AuthScheme), runtime.FastPath.Enabled ? $"XDP on {settings.EbpfInterface}" : "userspace");
        if (listeners.HealthEndpoint is { } health)
        {
            LogHealth(logger, Url(health));
        }

        if (listeners.ControlEndpoint is { } control)
        {
            LogAdmin(logger, Url(control), settings.AdminToken is null ? "no token" : "bearer token required");
        }
    }

    private static string Url(IPEndPoint endpoint) => $"http://{endpoint}";

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "firezone-relay {Version}: {Mode}, --auth-scheme {Scheme}, data path {DataPath}")]
    private static partial void LogVersion(ILogger logger, string version, string mode, string scheme, string dataPath);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Health checks and metrics on {Url} (/healthz, /readyz, /metrics)")]
    private static partial void LogHealth(ILogger logger, string url);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Admin API on {Url} (/admin, Swagger UI at /swagger; {Access})")]
    private static partial void LogAdmin(ILogger logger, string url, string access);
}
