using System.Diagnostics;
using System.Diagnostics.Metrics;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Web.Admin;
using Relay.Web.Configuration;
using Relay.Web.Portal;
using Relay.Web.Udp;
using Relay.Xdp;

namespace Relay.Web.Metrics;

/// <summary>
/// The relay's instruments on meter <c>relay</c>, named after the reference (§5) and OTel conventions. Counts that
/// the data plane keeps anyway (packets, bytes, drops, live allocations) are observed at collection time from the
/// engine's lock-free counters, so they are always current and cost the packet path nothing. Only control-plane
/// happenings (responses, authentication failures) and the packet-size histogram are recorded as they happen.
/// Traffic the XDP fast path relays never reaches the engine: its counters are read from the kernel at collection
/// time and reported with <c>relay.datapath=xdp</c> (the histogram covers userspace packets only, since XDP keeps
/// no per-packet stream). Labels are bounded: never a username or an address.
/// </summary>
public sealed class RelayMetrics : IRelayObserver, IDisposable
{
    public const string MeterName = "relay";
    public const string UserspaceDatapath = "userspace";

    /// <summary>The ActivitySource of control-plane traces (Allocate, ChannelBind, ... and portal events).</summary>
    public static readonly ActivitySource Tracing = new("relay");

    private static readonly string[] Directions = ["client_to_peer", "peer_to_client"];
    private static readonly KeyValuePair<string, object?> UserspaceTag = new("relay.datapath", UserspaceDatapath);

    private readonly Meter _meter;
    private readonly RelayRuntime _runtime;
    private readonly Counter<long> _responses;
    private readonly Counter<long> _authFailures;
    private readonly Histogram<long> _packetSize;

    public RelayMetrics(IMeterFactory meters, RelayRuntime runtime, PortalStatus portal, RelaySettings settings)
    {
        _runtime = runtime;
        _meter = meters.Create(MeterName);

        _meter.CreateObservableUpDownCounter("relay.active_allocations", () => runtime.Engine?.AllocationCount ?? 0,
            "{allocation}", "Allocations currently live.");
        _meter.CreateObservableUpDownCounter("relay.active_channels", () => runtime.Engine?.BoundChannelCount ?? 0,
            "{channel}", "Channel bindings currently bound.");
        _meter.CreateObservableUpDownCounter("relay.active_permissions", () => runtime.Engine?.PermissionCount ?? 0,
            "{permission}", "Permissions currently installed.");
        IReadOnlyList<KeyValuePair<string, long>> limits = LimitsModel.From(settings).ToSamples();
        _meter.CreateObservableGauge("relay.limit", () => Limits(limits), description:
            "The quotas, caps (0 = none) and lifetimes in effect, by limit; the same values as /admin/status limits.");
        _responses = _meter.CreateCounter<long>("relay.responses", "{response}", "STUN/TURN responses sent, by class, message type and error code.");
        _authFailures = _meter.CreateCounter<long>("relay.auth.failures", "{failure}", "Requests that failed authentication, by reason.");
        _packetSize = _meter.CreateHistogram<long>("relay.packet.size", "By", "Size of each relayed payload.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500] });
        _meter.CreateObservableCounter("relay.relayed.packets", () => Relayed(bytes: false), "{packet}",
            "Payload packets relayed, by data path, route (client family and peer family: 44, 46, 64, 66) and direction.");
        _meter.CreateObservableCounter("relay.relayed.bytes", () => Relayed(bytes: true), "By",
            "Payload bytes relayed, by data path, route and direction.");
        _meter.CreateObservableCounter("relay.dropped.packets", Dropped, "{packet}", "Datagrams dropped without a response, by reason.");
        _meter.CreateObservableCounter("relay.peers.refused", PeersRefused, "{peer}",
            "Peer addresses the peer policy refused (403 to CreatePermission or ChannelBind, or a dropped Send indication or peer datagram), by reason.");
        _meter.CreateObservableCounter("relay.xdp.passed.packets", () => FastPathReasons(passed: true), "{packet}",
            "Packets the XDP program handed to the kernel's stack untouched (userspace then handles them), by reason.");
        _meter.CreateObservableCounter("relay.xdp.dropped.packets", () => FastPathReasons(passed: false), "{packet}",
            "Packets the XDP program dropped after it had started rewriting them, by reason.");
        _meter.CreateObservableCounter("relay.xdp.hairpin.packets", Hairpin, "{packet}",
            "Packets XDP relayed from one client of this relay to another (relay-to-relay), by the two clients' families; also counted in relay.relayed.packets.");
        _meter.CreateObservableCounter("relay.xdp.program.runs", () => ProgramStats(s => s.RunCount), "{run}",
            "Runs of the XDP program (counted while kernel.bpf_stats_enabled is 1).");
        _meter.CreateObservableCounter("relay.xdp.program.time", () => ProgramStats(s => s.RunTimeNs / 1e9), "s",
            "Time spent in the XDP program (counted while kernel.bpf_stats_enabled is 1); divide by the runs for the cost per packet.");
        _meter.CreateObservableCounter("relay.send.errors", () => runtime.SendErrors, "{packet}", "Datagrams the kernel refused to send.");
        _meter.CreateObservableCounter("relay.send.gso_datagrams", () => runtime.CoalescedDatagrams, "{packet}",
            "Relayed datagrams sent within a UDP GSO group (one trip through the kernel's send path per group).");
        _meter.CreateObservableGauge("relay.portal.state", () => PortalStates(portal), "{state}",
            "The portal connection's state: 1 for the current one of standalone, disconnected, connecting, joined; 0 for the others.");
        _meter.CreateObservableCounter("relay.portal.reconnects", () => portal.ReconnectCount, "{attempt}",
            "Portal connection attempts after the first one.");
    }

    /// <summary>Counts a response the data plane is about to send (from <see cref="SendToClient"/>).</summary>
    public void Response(StunMethod method, int errorCode)
    {
        if (!_responses.Enabled)
        {
            return;
        }

        var tags = new TagList { { "response_class", errorCode == 0 ? "success" : "error" }, { "message_type", MessageType(method) } };
        if (errorCode != 0)
        {
            tags.Add("error_code", errorCode);
        }

        _responses.Add(1, tags);
    }

    /// <summary>Records one relayed payload's size (cheap no-op while nobody listens).</summary>
    public void PacketSize(int bytes)
    {
        if (_packetSize.Enabled)
        {
            _packetSize.Record(bytes, UserspaceTag);
        }
    }

    public void OnEvent(RelayEvent relayEvent)
    {
        if (relayEvent is AuthenticationFailed failure)
        {
            _authFailures.Add(1, new KeyValuePair<string, object?>("reason", Snake(failure.Reason.ToString())));
        }
    }

    private IEnumerable<Measurement<long>> Relayed(bool bytes)
    {
        if (_runtime.Engine is not { } engine)
        {
            yield break;
        }

        IFastPath fastPath = _runtime.FastPath;
        FastPathCounters? offloaded = fastPath.Enabled ? fastPath.ReadCounters() : null;
        var fastPathTag = new KeyValuePair<string, object?>("relay.datapath", fastPath.Name);
        foreach (RelayDirection direction in (RelayDirection[])[RelayDirection.ClientToPeer, RelayDirection.PeerToClient])
        {
            foreach (IpFamily client in (IpFamily[])[IpFamily.V4, IpFamily.V6])
            {
                foreach (IpFamily peer in (IpFamily[])[IpFamily.V4, IpFamily.V6])
                {
                    var route = new KeyValuePair<string, object?>("relay.route", RelayCounters.RouteName(client, peer));
                    var way = new KeyValuePair<string, object?>("relay.direction", Directions[(int)direction]);
                    long value = bytes ? engine.Counters.Bytes(direction, client, peer) : engine.Counters.Packets(direction, client, peer);
                    yield return new Measurement<long>(value, UserspaceTag, route, way);
                    if (offloaded is not null)
                    {
                        TrafficCount count = offloaded.Relayed(direction, client, peer);
                        yield return new Measurement<long>(bytes ? count.Bytes : count.Packets, fastPathTag, route, way);
                    }
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> FastPathReasons(bool passed)
    {
        if (!_runtime.FastPath.Enabled)
        {
            yield break;
        }

        FastPathCounters counters = _runtime.FastPath.ReadCounters();
        foreach (var (reason, count) in passed ? counters.Passed : counters.Dropped)
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    private IEnumerable<Measurement<long>> Hairpin()
    {
        if (!_runtime.FastPath.Enabled)
        {
            yield break;
        }

        FastPathCounters counters = _runtime.FastPath.ReadCounters();
        foreach (IpFamily sender in (IpFamily[])[IpFamily.V4, IpFamily.V6])
        {
            foreach (IpFamily receiver in (IpFamily[])[IpFamily.V4, IpFamily.V6])
            {
                yield return new Measurement<long>(counters.Hairpin(sender, receiver).Packets,
                    new KeyValuePair<string, object?>("relay.route", RelayCounters.RouteName(sender, receiver)));
            }
        }
    }

    private IEnumerable<Measurement<T>> ProgramStats<T>(Func<XdpProgramStats, T> value)
        where T : struct
    {
        if (_runtime.FastPath is XdpFastPath xdp)
        {
            yield return new Measurement<T>(value(xdp.ReadProgramStats()));
        }
    }

    private static IEnumerable<Measurement<long>> Limits(IReadOnlyList<KeyValuePair<string, long>> limits)
    {
        foreach ((string name, long value) in limits)
        {
            yield return new Measurement<long>(value, new KeyValuePair<string, object?>("limit", name));
        }
    }

    private static IEnumerable<Measurement<int>> PortalStates(PortalStatus portal)
    {
        string current = portal.Enabled ? portal.State.ToString().ToLowerInvariant() : "standalone";
        foreach (string state in (string[])["standalone", "disconnected", "connecting", "joined"])
        {
            yield return new Measurement<int>(state == current ? 1 : 0, new KeyValuePair<string, object?>("state", state));
        }
    }

    private IEnumerable<Measurement<long>> Dropped()
    {
        if (_runtime.Engine is not { } engine)
        {
            yield break;
        }

        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            yield return new Measurement<long>(engine.Counters.Drops(reason), new KeyValuePair<string, object?>("reason", Snake(reason.ToString())));
        }
    }

    private IEnumerable<Measurement<long>> PeersRefused()
    {
        if (_runtime.Engine is not { } engine)
        {
            yield break;
        }

        foreach (PeerDenial reason in Enum.GetValues<PeerDenial>())
        {
            if (reason != PeerDenial.None)
            {
                yield return new Measurement<long>(engine.Counters.PeersRefused(reason), new KeyValuePair<string, object?>("reason", Snake(reason.ToString())));
            }
        }
    }

    private static string MessageType(StunMethod method) => method switch
    {
        StunMethod.Binding => "binding",
        StunMethod.Allocate => "allocate",
        StunMethod.Refresh => "refresh",
        StunMethod.ChannelBind => "channelbind",
        StunMethod.CreatePermission => "createpermission",
        _ => "other",
    };

    /// <summary>"StaleNonce" → "stale_nonce".</summary>
    internal static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public void Dispose() => _meter.Dispose();
}
