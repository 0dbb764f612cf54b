using System.Net;
using System.Security.Cryptography;
using System.Text;
using Relay.Web.Configuration;
using Relay.Web.Logging;

namespace Relay.Web.Admin;

/// <summary>Which listener an endpoint belongs to.</summary>
public enum Plane
{
    /// <summary>--health-check-addr: /healthz, /readyz, /metrics. Meant for load balancers and scrapers.</summary>
    Public,

    /// <summary>--control-endpoint: /admin/*, /swagger, /log_filter. Loopback by default; bearer token otherwise.</summary>
    Control,
}

/// <summary>Endpoint metadata naming its plane.</summary>
public sealed record PlaneMetadata(Plane Plane);

/// <summary>
/// Keeps each endpoint on its own listener: a control-plane path asked on the public port is 404 (nothing reveals
/// it exists), and the other way round. When both flags name the same address, one listener serves both planes.
/// In-memory test servers have no local port and see both planes. Control-plane requests must carry the admin
/// token when one is configured (<c>Authorization: Bearer …</c>, compared in constant time); the API description
/// under /swagger is readable without it, so the page can show the "Authorize" button.
/// </summary>
public sealed partial class PlaneMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RelaySettings _settings;
    private readonly byte[]? _tokenHash;
    private readonly ILogger<PlaneMiddleware> _logger;
    private readonly LogRateLimiter _limiter;

    public PlaneMiddleware(RequestDelegate next, RelaySettings settings, ILogger<PlaneMiddleware> logger, TimeProvider time)
    {
        _next = next;
        _settings = settings;
        _logger = logger;
        _limiter = new LogRateLimiter(time);
        _tokenHash = settings.AdminToken is { } token ? SHA256.HashData(Encoding.UTF8.GetBytes(token)) : null;
    }

    public Task InvokeAsync(HttpContext context)
    {
        Plane? plane = context.GetEndpoint()?.Metadata.GetMetadata<PlaneMetadata>()?.Plane;
        bool docs = context.Request.Path.StartsWithSegments("/swagger");
        if (docs)
        {
            plane = Plane.Control;
        }

        if (plane is null)
        {
            return _next(context);
        }

        if (!Serves(context.Connection, plane.Value))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        if (plane == Plane.Control && !docs && _tokenHash is not null && !HasToken(context.Request))
        {
            if (_limiter.TryAcquire("admin-token", out int heldBack))
            {
                bool sent = context.Request.Headers.Authorization.Count > 0;
                LogRefused(_logger, context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    sent ? "a wrong bearer token" : "no bearer token");
                if (heldBack > 0)
                {
                    LogHeldBack(_logger, heldBack);
                }
            }

            context.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Admin token required",
                detail: "Send the admin token (--admin-token / ADMIN_TOKEN) as 'Authorization: Bearer <token>'.").ExecuteAsync(context);
        }

        return _next(context);
    }

    private bool Serves(ConnectionInfo connection, Plane plane)
    {
        if (connection.LocalPort == 0 || _settings.ControlEndpoint.Equals(_settings.HealthCheckEndpoint))
        {
            return true;
        }

        IPEndPoint expected = plane == Plane.Control ? _settings.ControlEndpoint : _settings.HealthCheckEndpoint;
        IPEndPoint other = plane == Plane.Control ? _settings.HealthCheckEndpoint : _settings.ControlEndpoint;
        if (connection.LocalPort != expected.Port)
        {
            return false;
        }

        // Same port on different addresses: decide by the address the request arrived on.
        return other.Port != expected.Port || Matches(expected.Address, connection.LocalIpAddress);
    }

    private static bool Matches(IPAddress bound, IPAddress? local) =>
        bound.Equals(IPAddress.Any) || bound.Equals(IPAddress.IPv6Any) || (local is not null && (local.Equals(bound) || local.MapToIPv6().Equals(bound.MapToIPv6())));

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Refused admin request {Method} {Path} from {Remote}: {Problem} (--admin-token)")]
    private static partial void LogRefused(ILogger logger, string method, string path, string remote, string problem);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "{Count} more refused admin requests in the minute before were not logged")]
    private static partial void LogHeldBack(ILogger logger, int count);

    private bool HasToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Hashing first makes the comparison constant-time in the token's length too.
        byte[] presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
        return CryptographicOperations.FixedTimeEquals(presented, _tokenHash);
    }
}

public static class PlaneExtensions
{
    public static TBuilder OnPlane<TBuilder>(this TBuilder builder, Plane plane)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new PlaneMetadata(plane));
}
