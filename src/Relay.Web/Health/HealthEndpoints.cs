using Relay.Web.Admin;
using Relay.Web.Configuration;
using Relay.Web.Portal;
using Relay.Web.Udp;

namespace Relay.Web.Health;

/// <summary>
/// <c>/healthz</c>: 200 while the process runs (liveness). <c>/readyz</c>: 200 when the UDP sockets are bound and,
/// in portal mode, the portal join has succeeded; 503 otherwise, as problem+json saying what is missing (with
/// <c>udp</c> and <c>portal</c> members). Both 200s answer a short JSON status.
/// </summary>
public static class HealthEndpoints
{
    public sealed record HealthStatus(string Status, bool Udp, string Portal);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", (RelayRuntime runtime, PortalStatus portal) =>
                Results.Json(new HealthStatus("ok", runtime.UdpReady, PortalText(portal))))
            .WithName("Liveness").WithTags("Health").ExcludeFromDescription().OnPlane(Plane.Public);

        endpoints.MapGet("/readyz", (RelayRuntime runtime, RelaySettings settings, PortalStatus portal) =>
            {
                if (runtime.Draining)
                {
                    return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Draining",
                        detail: "The relay is draining before it stops: existing allocations keep relaying, new ones are refused.",
                        extensions: new Dictionary<string, object?> { ["udp"] = runtime.UdpReady, ["draining"] = true });
                }

                bool ready = runtime.UdpReady && (!settings.PortalMode || runtime.PortalJoined);
                string portalState = PortalText(portal);
                if (ready)
                {
                    return Results.Json(new HealthStatus("ready", runtime.UdpReady, portalState));
                }

                string missing = !runtime.UdpReady ? "the UDP sockets are not bound (yet)" : $"the portal is not joined (it is {portalState})";
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready", detail: $"The relay is not ready: {missing}.",
                    extensions: new Dictionary<string, object?> { ["udp"] = runtime.UdpReady, ["portal"] = portalState });
            })
            .WithName("Readiness").WithTags("Health").ExcludeFromDescription().OnPlane(Plane.Public);
        return endpoints;
    }

    /// <summary>"standalone", or the portal connection's state: "connecting", "joined", "disconnected".</summary>
    public static string PortalText(PortalStatus portal) =>
        !portal.Enabled ? "standalone" : portal.State.ToString().ToLowerInvariant();
}
