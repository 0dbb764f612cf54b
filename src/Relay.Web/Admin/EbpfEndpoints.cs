using System.Globalization;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Web.Udp;
using Relay.Xdp;
using Relay.Xdp.Maps;

namespace Relay.Web.Admin;

/// <summary>/admin/ebpf: the XDP fast path's maps and counters, read from the kernel. 409 while offloading is off.</summary>
internal static class EbpfEndpoints
{
    private static readonly string[] BindingMaps = ["client_channels", "peer_bindings"];
    private const string LivePorts = "live_ports";

    public static void MapEbpfEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/ebpf/maps", Maps)
            .WithName("DumpEbpfMaps")
            .WithSummary("The XDP program's configuration and maps")
            .WithDescription("The configuration the XDP program runs with and the size of each map (client_channels, peer_bindings, live_ports). 409 while eBPF offloading is not enabled.")
            .Produces<EbpfMapsModel>()
            .ProducesProblem(StatusCodes.Status409Conflict);

        admin.MapGet("/ebpf/maps/{name}", MapEntries)
            .WithName("DumpEbpfMap")
            .WithSummary("One XDP map's entries")
            .WithDescription("The entries of client_channels, peer_bindings or live_ports as the kernel holds them, decoded, with each binding's XDP packet and byte counters. Page with `limit` (1-1000, default 100) and `cursor`. 404 for another name, 409 while eBPF offloading is not enabled.")
            .Produces<EbpfMapPage>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        admin.MapGet("/ebpf/stats", Stats)
            .WithName("EbpfStats")
            .WithSummary("XDP statistics")
            .WithDescription("Packets and bytes the XDP program relayed per route and direction (hairpin included), why it passed packets to userspace or dropped them, and its run count and time when kernel.bpf_stats_enabled is 1. 409 while eBPF offloading is not enabled.")
            .Produces<EbpfStatsModel>()
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static IResult Maps(RelayRuntime runtime)
    {
        if (runtime.FastPath is not XdpFastPath xdp)
        {
            return Disabled();
        }

        var config = new EbpfConfigModel(
            xdp.Options.ListenPort,
            $"{xdp.Options.LowestPort}-{xdp.Options.HighestPort}",
            xdp.Mtu,
            new[] { xdp.Options.PublicV4, xdp.Options.PublicV6 }.OfType<System.Net.IPAddress>().Select(a => a.ToString()).ToList(),
            xdp.SourceV4?.ToString(),
            xdp.SourceV6?.ToString(),
            xdp.Options.MaxBytesPerSecondPerAllocation);
        var maps = BindingMaps.Select(name => new EbpfMapSummary(name, xdp.ReadBindings(name).Count, XdpConstants.MaxBindings))
            .Append(new EbpfMapSummary(LivePorts, xdp.ReadLivePorts().Count, 65536))
            .ToList();
        return Results.Ok(new EbpfMapsModel(xdp.Interface.Name, Mode(xdp), config, maps));
    }

    private static IResult MapEntries(string name, RelayRuntime runtime, [System.ComponentModel.DataAnnotations.Range(1, AdminEndpoints.MaxPageSize)] int? limit = null, string? cursor = null)
    {
        if (runtime.FastPath is not XdpFastPath xdp)
        {
            return Disabled();
        }

        int size = limit ?? AdminEndpoints.DefaultPageSize;
        if (size is < 1 or > AdminEndpoints.MaxPageSize)
        {
            return AdminEndpoints.BadRequest($"limit must be between 1 and {AdminEndpoints.MaxPageSize}; it was {size}.");
        }

        int offset = 0;
        if (cursor is not null && (!int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            return AdminEndpoints.BadRequest($"cursor '{cursor}' is not one this API returned.");
        }

        List<EbpfEntryModel> entries;
        if (BindingMaps.Contains(name))
        {
            entries = xdp.ReadBindings(name)
                .OrderBy(e => e.AllocationPort.Value).ThenBy(e => e.Channel.Value).ThenBy(e => e.Client.ToString(), StringComparer.Ordinal)
                .Select(e => new EbpfEntryModel(e.Client.ToString(), e.Channel.ToString(), e.Peer.ToString(), e.AllocationPort.Value, null, e.Packets, e.Bytes))
                .ToList();
        }
        else if (name == LivePorts)
        {
            entries = xdp.ReadLivePorts()
                .Select(p => new EbpfEntryModel(null, null, null, p.Port.Value, Families(p.V4, p.V6), null, null))
                .ToList();
        }
        else
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such map",
                detail: $"There is no XDP map named '{name}'; the maps are {string.Join(", ", BindingMaps.Append(LivePorts))}.");
        }

        var page = entries.Skip(offset).Take(size).ToList();
        string? next = offset + size < entries.Count ? (offset + size).ToString(CultureInfo.InvariantCulture) : null;
        return Results.Ok(new EbpfMapPage(name, page, next, entries.Count));
    }

    private static IResult Stats(RelayRuntime runtime)
    {
        if (runtime.FastPath is not XdpFastPath xdp)
        {
            return Disabled();
        }

        FastPathCounters counters = xdp.ReadCounters();
        var routes = new List<EbpfRouteModel>();
        var hairpin = new List<EbpfRouteModel>();
        foreach (IpFamily first in (IpFamily[])[IpFamily.V4, IpFamily.V6])
        {
            foreach (IpFamily second in (IpFamily[])[IpFamily.V4, IpFamily.V6])
            {
                string route = RelayCounters.RouteName(first, second);
                TrafficCount up = counters.Relayed(RelayDirection.ClientToPeer, first, second);
                TrafficCount down = counters.Relayed(RelayDirection.PeerToClient, first, second);
                TrafficCount across = counters.Hairpin(first, second);
                routes.Add(new EbpfRouteModel(route, "client_to_peer", up.Packets, up.Bytes));
                routes.Add(new EbpfRouteModel(route, "peer_to_client", down.Packets, down.Bytes));
                hairpin.Add(new EbpfRouteModel(route, "hairpin", across.Packets, across.Bytes));
            }
        }

        XdpProgramStats program = xdp.ReadProgramStats();
        return Results.Ok(new EbpfStatsModel(
            xdp.Interface.Name,
            Mode(xdp),
            program.Id,
            routes,
            hairpin,
            counters.Passed.ToDictionary(p => p.Key, p => p.Value),
            counters.Dropped.ToDictionary(p => p.Key, p => p.Value),
            xdp.BindingCount,
            xdp.BindingFailures,
            new EbpfProgramModel(program.StatsEnabled, program.RunCount, program.RunTimeNs,
                program.RunCount > 0 ? (double)program.RunTimeNs / program.RunCount : null)));
    }

    private static List<string> Families(bool v4, bool v6) => [.. v4 ? ["ipv4"] : Array.Empty<string>(), .. v6 ? ["ipv6"] : Array.Empty<string>()];

    private static string Mode(XdpFastPath xdp) => xdp.Options.AttachMode.ToString().ToLowerInvariant();

    private static IResult Disabled() => Results.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "eBPF offloading is not enabled",
        detail: "eBPF offloading is not enabled; start with --ebpf-offloading <iface>.");
}
