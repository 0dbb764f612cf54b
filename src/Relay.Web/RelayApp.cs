using Relay.Web.Admin;
using Relay.Web.Cloud;
using Relay.Web.Configuration;
using Relay.Web.Credentials;
using Relay.Web.Health;
using Relay.Web.Logging;
using Relay.Web.Metrics;
using Relay.Web.Portal;
using Relay.Web.Stats;
using Relay.Web.Udp;

namespace Relay.Web;

/// <summary>Builds the relay's web application: services, Kestrel listeners and endpoints.</summary>
public static class RelayApp
{
    /// <summary>The host configuration section settings are read from (<c>Relay:listen-port</c>...).</summary>
    public const string SettingsSection = "Relay";

    /// <summary>
    /// Creates the application from setting values (file, environment and command line, already merged) and host
    /// arguments (ASP.NET Core <c>--Key=Value</c> configuration; test hosts add <c>Relay:&lt;key&gt;</c> settings).
    /// </summary>
    public static WebApplication Build(IReadOnlyDictionary<string, SettingValue> values, string[] hostArgs, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = hostArgs });
        builder.Configuration.AddInMemoryCollection(values.Select(v => KeyValuePair.Create($"{SettingsSection}:{v.Key}", (string?)v.Value.Text)));

        var configured = builder.Configuration.GetSection(SettingsSection).GetChildren()
            .Where(c => c.Value is not null)
            .ToDictionary(c => c.Key, c => values.TryGetValue(c.Key, out SettingValue given) && given.Text == c.Value ? given : new SettingValue(c.Value!, null), StringComparer.OrdinalIgnoreCase);
        var settings = SettingsLoader.Load(configured, out var errors, out var warnings) ?? throw new RelayConfigurationException(errors);
        // Here rather than on the command line: test hosts add settings through the host configuration.
        if (RelayCommandLine.ListenerProblems(settings).ToList() is { Count: > 0 } taken)
        {
            throw new RelayConfigurationException(taken);
        }

        CloudInstance cloud = CloudMetadata.Discover(settings);
        settings = CloudMetadata.Apply(settings, cloud);
        var logFilter = new DynamicLogFilter(settings.LogFilter);
        ConfigureLogging(builder, settings, logFilter);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(logFilter);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RelayRuntime>();
        builder.Services.AddSingleton<RelayEventLog>();
        builder.Services.AddSingleton<IFastPathFactory, XdpFastPathFactory>();
        builder.Services.AddHostedService<UdpRelayService>();
        builder.Services.AddHostedService<DrainService>();
        builder.Services.AddRelayPortal();
        builder.Services.AddHostedService<StandaloneAnnouncer>();
        builder.Services.AddHostedService<StatsReporter>();
        builder.Services.AddRelayProblemResponses();
        builder.Services.AddRelayOpenApi();
        builder.AddRelayTelemetry(settings, cloud.ResourceAttributes);
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(10 + settings.DrainTimeout);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });

        var listeners = new HttpListeners();
        builder.Services.AddSingleton(listeners);
        builder.Services.AddHostedService<StartupReport>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(settings.HealthCheckEndpoint, listen => listeners.Health = listen);
            if (!settings.ControlEndpoint.Equals(settings.HealthCheckEndpoint))
            {
                kestrel.Listen(settings.ControlEndpoint, listen => listeners.Control = listen);
            }

            kestrel.AddServerHeader = false;
        });

        customize?.Invoke(builder);
        var app = builder.Build();
        foreach (string warning in warnings)
        {
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Relay.Web.Configuration").LogWarning("{Warning}", warning);
        }

        app.Services.GetRequiredService<RelayRuntime>().UseLifetime(app.Lifetime);
        app.UseRelayProblemResponses();
        app.UseRouting();
        app.UseMiddleware<PlaneMiddleware>();
        app.UseRelaySwaggerUi();
        app.MapHealthEndpoints();
        app.MapRelayMetrics();
        app.MapAdminEndpoints();
        return app;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder, RelaySettings settings, DynamicLogFilter filter)
    {
        builder.Logging.ClearProviders();
        if (settings.LogFormat == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }

        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddFilter((_, category, level) => filter.IsEnabled(category, level));
    }
}

/// <summary>Invalid settings: one message per problem, each naming its flag.</summary>
public sealed class RelayConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
