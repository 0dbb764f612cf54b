using System.Diagnostics;
using System.Diagnostics.Metrics;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Web.Portal;
using Relay.Web.Udp;

namespace Relay.Web.Metrics;

/// <summary>
/// The relay's instruments on meter <c>relay</c>, named after the reference (§5) and OTel conventions. Counts that
/// the data plane keeps anyway (packets, bytes, drops, live allocations) are observed at collection time from the
/// engine's lock-free counters, so they are always current and cost the packet path nothing. Only control-plane
/// happenings (responses, authentication failures) and the packet-size histogram are recorded as they happen.
/// Labels are bounded: never a username or an address.
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

    public RelayMetrics(IMeterFactory meters, RelayRuntime runtime, PortalStatus portal)
    {
        _runtime = runtime;
        _meter = meters.Create(MeterName);

        _meter.CreateObservableUpDownCounter("relay.active_allocations", () => runtime.Engine?.AllocationCount ?? 0,
            "{allocation}", "Allocations currently live.");
        _meter.CreateObservableUpDownCounter("relay.active_channels", () => runtime.Engine?.BoundChannelCount ?? 0,
            "{channel}", "Channel bindings currently bound.");
        _meter.CreateObservableUpDownCounter("relay.active_permissions", () => runtime.Engine?.PermissionCount ?? 0,
            "{permission}", "Permissions currently installed.");
        _responses = _meter.CreateCounter<long>("relay.responses", "{response}", "STUN/TURN responses sent, by class, message type and error code.");
        _authFailures = _meter.CreateCounter<long>("relay.auth.failures", "{failure}", "Requests that failed authentication, by reason.");
        _packetSize = _meter.CreateHistogram<long>("relay.packet.size", "By", "Size of each relayed payload.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500] });
        _meter.CreateObservableCounter("relay.relayed.packets", () => Relayed(bytes: false), "{packet}",
            "Payload packets relayed, by data path, route (client family and peer family: 44, 46, 64, 66) and direction.");
        _meter.CreateObservableCounter("relay.relayed.bytes", () => Relayed(bytes: true), "By",
            "Payload bytes relayed, by data path, route and direction.");
        _meter.CreateObservableCounter("relay.dropped.packets", Dropped, "{packet}", "Datagrams dropped without a response, by reason.");
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

        foreach (RelayDirection direction in (RelayDirection[])[RelayDirection.ClientToPeer, RelayDirection.PeerToClient])
        {
            foreach (IpFamily client in (IpFamily[])[IpFamily.V4, IpFamily.V6])
            {
                foreach (IpFamily peer in (IpFamily[])[IpFamily.V4, IpFamily.V6])
                {
                    long value = bytes ? engine.Counters.Bytes(direction, client, peer) : engine.Counters.Packets(direction, client, peer);
                    yield return new Measurement<long>(value,
                        UserspaceTag,
                        new KeyValuePair<string, object?>("relay.route", RelayCounters.RouteName(client, peer)),
                        new KeyValuePair<string, object?>("relay.direction", Directions[(int)direction]));
                }
            }
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
    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public void Dispose() => _meter.Dispose();
}
