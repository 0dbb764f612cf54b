using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Health;

/// <summary>
/// <c>/healthz</c>: 200 while the process runs (liveness). <c>/readyz</c>: 200 when the UDP sockets are bound and,
/// in portal mode, the portal join has succeeded; 503 otherwise. Both answer a short JSON status.
/// </summary>
public static class HealthEndpoints
{
    public sealed record HealthStatus(string Status, bool Udp, string Portal);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", (RelayRuntime runtime, RelaySettings settings) =>
                Results.Json(new HealthStatus("ok", runtime.UdpReady, PortalState(runtime, settings))))
            .WithName("Liveness").WithTags("Health").ExcludeFromDescription();

        endpoints.MapGet("/readyz", (RelayRuntime runtime, RelaySettings settings) =>
            {
                bool ready = runtime.UdpReady && (!settings.PortalMode || runtime.PortalJoined);
                var status = new HealthStatus(ready ? "ready" : "not ready", runtime.UdpReady, PortalState(runtime, settings));
                return Results.Json(status, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
            })
            .WithName("Readiness").WithTags("Health").ExcludeFromDescription();
        return endpoints;
    }

    private static string PortalState(RelayRuntime runtime, RelaySettings settings) =>
        !settings.PortalMode ? "standalone" : runtime.PortalJoined ? "joined" : "not joined";
}
