using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Relay.Web.Admin;
using Relay.Web.Configuration;

namespace Relay.Web.Metrics;

/// <summary>
/// OpenTelemetry: the <c>relay</c> meter to a Prometheus scrape endpoint (<c>/metrics</c> on the public listener)
/// and, with --otlp-grpc-endpoint, metrics and traces to an OTLP/gRPC collector. Resource: service.name=relay,
/// service.namespace=firezone unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say otherwise.
/// </summary>
public static class TelemetrySetup
{
    /// <param name="instanceAttributes">Resource attributes from the cloud's metadata (--otel-metadata-discovery-method).</param>
    public static WebApplicationBuilder AddRelayTelemetry(this WebApplicationBuilder builder, RelaySettings settings, IReadOnlyList<KeyValuePair<string, object>> instanceAttributes)
    {
        builder.Services.AddSingleton<RelayMetrics>();
        string serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "relay";
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(serviceName, serviceNamespace: "firezone", serviceVersion: Health.RelayVersion.Current)
                .AddAttributes(instanceAttributes)
                .AddEnvironmentVariableDetector())
            .WithMetrics(metrics =>
            {
                // No response cache: a scrape always shows the values of that moment.
                metrics.AddMeter(RelayMetrics.MeterName)
                    .AddProcessInstrumentation() // process.cpu.time, process.memory.usage, process.thread.count...
                    .AddRuntimeInstrumentation() // process.runtime.dotnet.gc.*, jit, thread pool, exceptions
                    .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
                if (settings.OtlpEndpoint is { } endpoint)
                {
                    metrics.AddOtlpExporter(o =>
                    {
                        o.Endpoint = endpoint;
                        o.Protocol = OtlpExportProtocol.Grpc;
                    });
                }
            });

        if (settings.OtlpEndpoint is { } traceEndpoint)
        {
            otel.WithTracing(tracing => tracing
                .AddSource(RelayMetrics.Tracing.Name)
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = traceEndpoint;
                    o.Protocol = OtlpExportProtocol.Grpc;
                }));
        }

        return builder;
    }

    public static WebApplication MapRelayMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").OnPlane(Plane.Public);
        return app;
    }
}
