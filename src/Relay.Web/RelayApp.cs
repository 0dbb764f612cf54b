using Microsoft.Extensions.Options;
using Relay.Web.Configuration;
using Relay.Web.Credentials;
using Relay.Web.Health;
using Relay.Web.Logging;
using Relay.Web.Stats;
using Relay.Web.Udp;

namespace Relay.Web;

/// <summary>Builds the relay's web application: services, Kestrel listeners and endpoints.</summary>
public static class RelayApp
{
    /// <summary>
    /// Creates the application from configuration values (command line and environment, already merged).
    /// Settings are parsed again when the container first needs them, so test hosts that add configuration
    /// (WebApplicationFactory) are honoured too.
    /// </summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> values, string[] hostArgs, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = hostArgs });
        builder.Configuration.AddInMemoryCollection(values);

        var early = builder.Configuration.GetSection(RelayOptions.Section).Get<RelayOptions>() ?? new RelayOptions();
        var logFilter = new DynamicLogFilter(LogFilter.TryParse(early.LogFilter, out var filter, out _) ? filter : LogFilter.Default);
        ConfigureLogging(builder, early, logFilter);

        builder.Services.AddOptions<RelayOptions>().Bind(builder.Configuration.GetSection(RelayOptions.Section));
        builder.Services.AddSingleton(sp => ResolveSettings(sp.GetRequiredService<IOptions<RelayOptions>>().Value, logFilter));
        builder.Services.AddSingleton(logFilter);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RelayRuntime>();
        builder.Services.AddSingleton<RelayEventLog>();
        builder.Services.AddHostedService<UdpRelayService>();
        builder.Services.AddHostedService<StandaloneAnnouncer>();
        builder.Services.AddHostedService<StatsReporter>();
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(10);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var settings = kestrel.ApplicationServices.GetRequiredService<RelaySettings>();
            kestrel.Listen(settings.HealthCheckEndpoint);
            if (!settings.ControlEndpoint.Equals(settings.HealthCheckEndpoint))
            {
                kestrel.Listen(settings.ControlEndpoint);
            }

            kestrel.AddServerHeader = false;
        });

        customize?.Invoke(builder);
        var app = builder.Build();
        app.MapHealthEndpoints();
        return app;
    }

    private static RelaySettings ResolveSettings(RelayOptions options, DynamicLogFilter logFilter)
    {
        var settings = RelaySettings.Parse(options, out var errors) ?? throw new RelayConfigurationException(errors);
        logFilter.Update(settings.LogFilter);
        return settings;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder, RelayOptions options, DynamicLogFilter filter)
    {
        builder.Logging.ClearProviders();
        if (string.Equals(options.LogFormat, "json", StringComparison.OrdinalIgnoreCase))
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
