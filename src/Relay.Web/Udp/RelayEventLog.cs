using Relay.Core.Server;

namespace Relay.Web.Udp;

/// <summary>Turns engine events into structured logs (source-generated; control plane only, never per packet).</summary>
internal sealed partial class RelayEventLog : IRelayObserver
{
    private readonly ILogger _logger;
    private readonly List<IRelayObserver> _others = new();

    public RelayEventLog(ILogger<RelayEventLog> logger) => _logger = logger;

    /// <summary>Further observers (metrics) fed from the data-plane thread after the log line.</summary>
    public void Add(IRelayObserver observer) => _others.Add(observer);

    public void OnEvent(RelayEvent relayEvent)
    {
        switch (relayEvent)
        {
            case AllocationCreated e:
                LogAllocationCreated(_logger, e.Id.Value, e.Client.ToString(), e.Port.Value, e.V4, e.V6, (int)e.Lifetime.TotalSeconds);
                break;
            case AllocationRefreshed e:
                LogAllocationRefreshed(_logger, e.Id.Value, e.Client.ToString(), (int)e.Lifetime.TotalSeconds);
                break;
            case AllocationDeleted e:
                LogAllocationDeleted(_logger, e.Id.Value, e.Client.ToString(), e.Port.Value, e.Reason);
                break;
            case ChannelBound e:
                LogChannelBound(_logger, e.Id.Value, e.Channel.ToString(), e.Peer.ToString(), e.Refresh);
                break;
            case ChannelExpired e:
                LogChannelExpired(_logger, e.Id.Value, e.Channel.ToString(), e.Peer.ToString());
                break;
            case AuthenticationFailed e:
                LogAuthFailed(_logger, e.Client.ToString(), e.Method, e.Reason);
                break;
            case PeerRefused e:
                LogPeerRefused(_logger, e.Client.ToString(), e.Peer.ToString(), e.Reason);
                break;
            case AllocationPortBindFailed e:
                LogBindFailed(_logger, e.Port.Value, e.Family, e.Retried);
                break;
            case PortsExhausted e:
                LogPortsExhausted(_logger, e.Client.ToString());
                break;
        }

        foreach (IRelayObserver observer in _others)
        {
            observer.OnEvent(relayEvent);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Created new allocation {AllocationId} for {Client} on port {Port} (IPv4 {V4}, IPv6 {V6}, {Lifetime} s)")]
    private static partial void LogAllocationCreated(ILogger logger, long allocationId, string client, ushort port, bool v4, bool v6, int lifetime);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "Refreshed allocation {AllocationId} of {Client} for {Lifetime} s")]
    private static partial void LogAllocationRefreshed(ILogger logger, long allocationId, string client, int lifetime);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Deleted allocation {AllocationId} of {Client} on port {Port}: {Reason}")]
    private static partial void LogAllocationDeleted(ILogger logger, long allocationId, string client, ushort port, DeletionReason reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Successfully bound channel {Channel} of allocation {AllocationId} to {Peer} (refresh {Refresh})")]
    private static partial void LogChannelBound(ILogger logger, long allocationId, string channel, string peer, bool refresh);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Channel {Channel} of allocation {AllocationId} to {Peer} is now expired")]
    private static partial void LogChannelExpired(ILogger logger, long allocationId, string channel, string peer);

    [LoggerMessage(EventId = 205, Level = LogLevel.Debug, Message = "Authentication of {Method} from {Client} failed: {Reason}")]
    private static partial void LogAuthFailed(ILogger logger, string client, Relay.Core.Stun.StunMethod method, AuthFailure reason);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "Refused peer {Peer} for {Client}: {Reason}")]
    private static partial void LogPeerRefused(ILogger logger, string client, string peer, Relay.Core.Policy.PeerDenial reason);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "Relay port {Port} ({Family}) is taken by another program (moved to another port: {Retried})")]
    private static partial void LogBindFailed(ILogger logger, ushort port, Relay.Core.Net.IpFamily family, bool retried);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "No more relay ports available for {Client}")]
    private static partial void LogPortsExhausted(ILogger logger, string client);
}
