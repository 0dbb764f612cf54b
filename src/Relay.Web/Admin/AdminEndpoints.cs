using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Web.Configuration;
using Relay.Web.Credentials;
using Relay.Web.Health;
using Relay.Web.Logging;
using Relay.Web.Portal;
using Relay.Web.Udp;

namespace Relay.Web.Admin;

/// <summary>
/// The admin REST API on the control endpoint: allocations (list, get, evict), test credentials, status, the eBPF
/// map dump and the runtime log filter. Errors are RFC 7807 problem+json. Everything reads engine snapshots taken
/// on the data-plane thread, so nothing here touches the packet path.
/// </summary>
public static class AdminEndpoints
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1000;


    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin").WithTags("Admin").OnPlane(Plane.Control);

        admin.MapGet("/allocations", ListAllocations)
            .WithName("ListAllocations")
            .WithSummary("List allocations")
            .WithDescription("Every allocation in ascending id order, with its client, username, relayed addresses, lifetime, permissions, channels and traffic. Filter with `username` (exact), `client` (ip or ip:port) and `peer` (ip or ip:port, matched against permissions and channels); page with `limit` (1-1000, default 100) and the `cursor` returned by the previous page.")
            .Produces<AllocationPage>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        admin.MapGet("/allocations/{id}", GetAllocation)
            .WithName("GetAllocation")
            .WithSummary("Get one allocation")
            .WithDescription("The allocation with this id; 404 when there is none (it expired, was deleted or never existed).")
            .Produces<AllocationModel>()
            .ProducesProblem(StatusCodes.Status404NotFound);

        admin.MapDelete("/allocations/{id}", EvictAllocation)
            .WithName("EvictAllocation")
            .WithSummary("Evict one allocation")
            .WithDescription("Frees the allocation now: its channel bindings are removed, its relay port is closed, and the client's next request gets 437 (Allocation Mismatch).")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound);

        admin.MapDelete("/allocations", EvictUser)
            .WithName("EvictUserAllocations")
            .WithSummary("Evict all allocations of a user")
            .WithDescription("Evicts every allocation created with `username`. The parameter is required: this endpoint never evicts everything.")
            .Produces<EvictionResult>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        admin.MapPost("/credentials", MintCredentials)
            .WithName("MintCredentials")
            .WithSummary("Mint test credentials")
            .WithDescription("A username and password for the active auth scheme, valid for `ttlSeconds`, plus this relay's TURN URLs: enough to test the relay with any TURN client or browser.")
            .Accepts<CredentialsRequest>("application/json")
            .Produces<CredentialsResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        admin.MapPost("/drain", Drain)
            .WithName("Drain")
            .WithSummary("Drain and stop the relay")
            .WithDescription("Stops the relay as SIGTERM does: with --drain-timeout above 0, /readyz turns 503, new Allocates are refused and existing allocations keep relaying until they end or the timeout passes; then the process exits 0. With 0 it exits at once.")
            .Produces<DrainResult>(StatusCodes.Status202Accepted);

        admin.MapGet("/status", Status)
            .WithName("Status")
            .WithSummary("Relay status")
            .WithDescription("Version, mode and portal state, addresses and ports, and live allocation, channel and permission counts.")
            .Produces<StatusModel>();

        admin.MapEbpfEndpoints();

        endpoints.MapPost("/log_filter", SetLogFilter)
            .WithTags("Logging")
            .OnPlane(Plane.Control)
            .WithName("SetLogFilter")
            .WithSummary("Change the log filter")
            .WithDescription("Replaces the log filter at runtime with RUST_LOG-style directives, e.g. `info` or `warn,relay=debug`. 400 when they do not parse.")
            .Produces<LogFilterModel>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        return endpoints;
    }

    private static async Task<IResult> ListAllocations(
        RelayRuntime runtime, TimeProvider time, string? username = null, string? client = null, string? peer = null,
        [Range(1, MaxPageSize)] int? limit = null, string? cursor = null)
    {
        int size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            return BadRequest($"limit must be between 1 and {MaxPageSize}; it was {size}.");
        }

        long after = 0;
        if (cursor is not null && (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            return BadRequest($"cursor '{cursor}' is not one this API returned.");
        }

        if (!AddressFilter.TryParse(client, out var clientFilter) || !AddressFilter.TryParse(peer, out var peerFilter))
        {
            return BadRequest($"'{(AddressFilter.TryParse(client, out _) ? peer : client)}' is not an IP address or ip:port.");
        }

        var all = await runtime.InvokeAsync((engine, _) => engine.SnapshotAllocations());
        var matching = all
            .Where(a => username is null || a.Username == username)
            .Where(a => clientFilter is null || clientFilter.Matches(a.Client.Address))
            .Where(a => peerFilter is null || a.Channels.Any(c => peerFilter.Matches(c.Peer.Address)) || a.Permissions.Any(p => peerFilter.MatchesIp(p.Peer)))
            .OrderBy(a => a.Id.Value)
            .ToList();
        var page = matching.Where(a => a.Id.Value > after).Take(size + 1).ToList();
        DateTimeOffset now = time.GetUtcNow();
        string? next = page.Count > size ? page[size - 1].Id.Value.ToString(CultureInfo.InvariantCulture) : null;
        // The fast path's counters are read here, after the snapshot, only for the page: reading them on the
        // data-plane thread for every allocation would hold up packets.
        return Results.Ok(new AllocationPage(page.Take(size).Select(a => AllocationModel.From(a, runtime.FastPath, now)).ToList(), next, matching.Count));
    }

    private static async Task<IResult> GetAllocation(long id, RelayRuntime runtime, TimeProvider time)
    {
        var snapshot = await runtime.InvokeAsync((engine, _) => engine.SnapshotAllocation(new AllocationId(id)));
        return snapshot is null ? NotFound(id) : Results.Ok(AllocationModel.From(snapshot, runtime.FastPath, time.GetUtcNow()));
    }

    private static async Task<IResult> EvictAllocation(long id, RelayRuntime runtime) =>
        await runtime.InvokeAsync((engine, _) => engine.EvictAllocation(new AllocationId(id))) ? Results.NoContent() : NotFound(id);

    private static IResult Drain(RelayRuntime runtime, RelaySettings settings)
    {
        runtime.RequestStop();
        return Results.Json(new DrainResult { DrainTimeoutSeconds = settings.DrainTimeout }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> EvictUser(RelayRuntime runtime, string? username = null)
    {
        if (string.IsNullOrEmpty(username))
        {
            return BadRequest("username is required: DELETE /admin/allocations?username=<username> evicts that user's allocations.");
        }

        return Results.Ok(new EvictionResult { Evicted = await runtime.InvokeAsync((engine, _) => engine.EvictUser(username)) });
    }

    private static IResult MintCredentials(CredentialsRequest? request, RelayRuntime runtime, RelaySettings settings, TimeProvider time)
    {
        int ttl = request?.TtlSeconds ?? 86400;
        if (CredentialRules.CheckTtl(ttl) is { } ttlProblem)
        {
            return BadRequest($"ttlSeconds {ttlProblem}.");
        }

        string salt = request?.Salt ?? CredentialsCommand.RandomSalt();
        DateTimeOffset expiresAt = time.GetUtcNow().AddSeconds(ttl);
        if (CredentialRules.CheckUser(settings.AuthScheme, salt, expiresAt) is { } saltProblem)
        {
            return BadRequest($"salt {saltProblem}.");
        }

        if (runtime.Engine is not { } engine)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Relay not running", detail: "The UDP data plane is not running.");
        }

        var minted = engine.Credentials.Mint(salt, expiresAt, settings.Realm);
        return Results.Ok(new CredentialsResponse { Username = minted.Username, Password = minted.Password, Realm = minted.Realm, ExpiresAt = minted.ExpiresAt, Urls = TurnUrls(runtime) });
    }

    private static IResult Status(RelayRuntime runtime, RelaySettings settings, PortalStatus portal)
    {
        RelayServer? engine = runtime.Engine;
        PortalStatusSnapshot p = portal.Snapshot();
        return Results.Ok(new StatusModel(
            RelayVersion.Current,
            runtime.StartedAt,
            settings.PortalMode ? "portal" : "standalone",
            HealthEndpoints.PortalText(portal),
            p.Enabled ? new PortalModel(p.Url, p.StateSince, p.LastJoinedAt, p.ReconnectCount, p.LastError, p.NextAttemptAt) : null,
            new[] { runtime.PublicIp4, runtime.PublicIp6 }.OfType<IPAddress>().Select(a => a.ToString()).ToList(),
            runtime.ListenPort,
            $"{settings.LowestPort}-{settings.HighestPort}",
            ChoiceParser<AuthScheme>.Name(settings.AuthScheme),
            engine?.AllocationCount ?? 0,
            engine?.BoundChannelCount ?? 0,
            engine?.PermissionCount ?? 0,
            runtime.FastPath.Enabled ? runtime.FastPath.Name : "userspace",
            LimitsModel.From(settings)));
    }

    private static IResult SetLogFilter(DynamicLogFilter filter, string? directives = null)
    {
        if (directives is null)
        {
            return BadRequest("directives is required, e.g. POST /log_filter?directives=info,relay=debug");
        }

        if (!LogFilter.TryParse(directives, out var parsed, out string? error))
        {
            return BadRequest(error!);
        }

        filter.Update(parsed);
        return Results.Ok(new LogFilterModel { Directives = parsed.Text });
    }

    private static List<string> TurnUrls(RelayRuntime runtime)
    {
        var urls = new List<string>();
        if (runtime.PublicIp4 is { } v4)
        {
            urls.Add($"turn:{v4}:{runtime.ListenPort}?transport=udp");
        }

        if (runtime.PublicIp6 is { } v6)
        {
            urls.Add($"turn:[{v6}]:{runtime.ListenPort}?transport=udp");
        }

        return urls;
    }

    internal static IResult BadRequest(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request", detail: detail);

    private static IResult NotFound(long id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Allocation not found", detail: $"No allocation has id {id}; it may have expired or been deleted.");

    /// <summary>An IP address, optionally with a port.</summary>
    private sealed record AddressFilter(IpAddr Ip, ushort? Port)
    {
        public static bool TryParse(string? text, out AddressFilter? filter)
        {
            filter = null;
            if (string.IsNullOrEmpty(text))
            {
                return true;
            }

            if (IpAddr.TryParse(text.Trim('[', ']'), out IpAddr ip))
            {
                filter = new AddressFilter(ip, null);
                return true;
            }

            if (IPEndPoint.TryParse(text, out IPEndPoint? endpoint) && endpoint.Port != 0)
            {
                filter = new AddressFilter(IpAddr.FromIPAddress(endpoint.Address), (ushort)endpoint.Port);
                return true;
            }

            return false;
        }

        public bool Matches(TransportAddress address) => address.Address == Ip && (Port is null || Port == address.Port);

        public bool MatchesIp(IpAddr address) => Port is null && address == Ip;
    }
}
