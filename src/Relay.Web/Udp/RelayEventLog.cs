using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Web.Configuration;
using Relay.Web.Logging;

namespace Relay.Web.Udp;

/// <summary>
/// Turns engine events into structured logs (source-generated; control plane only, never per packet). Refused
/// requests an operator needs to see (failed authentication, refused peers, channel numbers out of range, 437s)
/// are logged at info with their reason and what to change, at most a few per reason and minute.
/// </summary>
internal sealed partial class RelayEventLog : IRelayObserver
{
    private readonly ILogger _logger;
    private readonly RelaySettings _settings;
    private readonly LogRateLimiter _limiter;
    private readonly List<IRelayObserver> _others = new();

    public RelayEventLog(ILogger<RelayEventLog> logger, RelaySettings settings, TimeProvider time)
    {
        _logger = logger;
        _settings = settings;
        _limiter = new LogRateLimiter(time);
    }

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
            case AuthenticationFailed { Reason: AuthFailure.StaleNonce } e:
                LogStaleNonce(_logger, e.Client.ToString(), e.Method); // nonces age out; the client retries with the new one
                break;
            case AuthenticationFailed e when Admit(e.Reason.ToString()):
                LogAuthFailed(_logger, e.Method, e.Client.ToString(), Describe(e.Reason), e.Username ?? "none");
                break;
            case PeerRefused e when Admit("PeerRefused"):
                LogPeerRefused(_logger, e.Client.ToString(), e.Peer.ToString(), Describe(e.Reason, e.Peer));
                break;
            case RequestRejected e when Admit(e.Reason.ToString()):
                LogRejected(_logger, e.Method, e.Client.ToString(), e.ErrorCode, Describe(e));
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

    /// <summary>Rate limit per reason; the first line of a window also says how many the last window held back.</summary>
    private bool Admit(string reason)
    {
        if (!_limiter.TryAcquire(reason, out int heldBack))
        {
            return false;
        }

        if (heldBack > 0)
        {
            LogHeldBack(_logger, heldBack, reason);
        }

        return true;
    }

    /// <summary>Why the peer policy refused a peer, and the setting that would allow it where one should.</summary>
    private static string Describe(PeerDenial reason, TransportAddress peer) => reason switch
    {
        PeerDenial.Private or PeerDenial.SharedAddressSpace or PeerDenial.Documentation =>
            $"a {Words(reason)} address; allow it with --allowed-peer-ip {peer.Address} (or --allow-private-peers in a lab)",
        PeerDenial.Loopback => "a loopback address; --allow-loopback-peers allows those (single-machine testing only)",
        PeerDenial.DeniedByOperator => "inside a --denied-peer-ip block",
        PeerDenial.RelayItself => "one of the relay's own ports",
        PeerDenial.PortZero => "port 0",
        _ => $"a {Words(reason)} address, never relayed unless --allowed-peer-ip names it",
    };

    /// <summary>"SharedAddressSpace" → "shared address space".</summary>
    private static string Words(PeerDenial reason) => Metrics.RelayMetrics.Snake(reason.ToString()).Replace('_', ' ');

    private static string Describe(AuthFailure reason) => reason switch
    {
        AuthFailure.MissingAttributes => "USERNAME, REALM or NONCE is missing, or PASSWORD-ALGORITHM is unknown",
        AuthFailure.InvalidNonce => "the nonce was not issued to this client by this relay",
        AuthFailure.InvalidUsername => "the username is not <expiry>:<salt> (firezone) or <expiry>:<user> (turn-rest)",
        AuthFailure.ExpiredUsername => "the credentials have expired",
        AuthFailure.WrongPassword => "wrong password or realm (credentials minted with another secret, scheme or --realm?)",
        AuthFailure.WrongUser => "441: the allocation belongs to another username",
        _ => reason.ToString(),
    };

    private string Describe(RequestRejected rejected) => rejected.Reason switch
    {
        Rejection.ChannelNumberOutOfRange when !_settings.Rfc5766ChannelNumbers =>
            $"channel number {rejected.Detail} is outside 0x4000-0x4FFF (RFC 8656); start the relay with --rfc5766-channel-numbers to accept up to 0x7FFF, as coturn's clients need",
        Rejection.ChannelNumberOutOfRange => $"channel number {rejected.Detail} is outside 0x4000-0x7FFF",
        Rejection.AllocationExists => $"the client already has allocation {rejected.Detail} on this 5-tuple",
        Rejection.NoAllocation when _settings.AuthScheme == Relay.Core.Auth.AuthScheme.Firezone =>
            "the client has no allocation: it expired or was evicted, or a newer Allocate with the same username replaced it (--auth-scheme firezone keeps one allocation per username; clients sharing a credential need --auth-scheme turn-rest)",
        Rejection.NoAllocation => "the client has no allocation: it expired or was evicted",
        _ => rejected.Reason.ToString(),
    };

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

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "Refused {Method} from {Client}: authentication failed: {Reason} (username {Username})")]
    private static partial void LogAuthFailed(ILogger logger, StunMethod method, string client, string reason, string username);

    [LoggerMessage(EventId = 209, Level = LogLevel.Debug, Message = "Stale nonce in {Method} from {Client}; it gets a fresh one (438)")]
    private static partial void LogStaleNonce(ILogger logger, string client, StunMethod method);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Refused {Method} from {Client} with {ErrorCode}: {Reason}")]
    private static partial void LogRejected(ILogger logger, StunMethod method, string client, int errorCode, string reason);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "{Count} more refusals for {Reason} in the minute before were not logged (relay_responses_total and relay_auth_failures_total count them all)")]
    private static partial void LogHeldBack(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "Refused peer {Peer} for {Client} with 403: {Reason}")]
    private static partial void LogPeerRefused(ILogger logger, string client, string peer, string reason);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "Relay port {Port} ({Family}) is taken by another program (moved to another port: {Retried})")]
    private static partial void LogBindFailed(ILogger logger, ushort port, Relay.Core.Net.IpFamily family, bool retried);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "No more relay ports available for {Client}")]
    private static partial void LogPortsExhausted(ILogger logger, string client);
}
