namespace Relay.Web.Portal;

public enum SessionActionKind
{
    /// <summary>Nothing to do.</summary>
    None,

    /// <summary>Send <see cref="SessionAction.Frame"/>.</summary>
    Send,

    /// <summary>Send the join in <see cref="SessionAction.Frame"/> and expect its reply (ref <see cref="SessionAction.Ref"/>) within the join timeout; the relay is not joined until then.</summary>
    Join,

    /// <summary>The portal accepted the join.</summary>
    Joined,

    /// <summary>The portal's <c>init</c> push arrived (logged; nothing waits for it).</summary>
    Init,

    /// <summary>Drop this connection and connect again (<see cref="SessionAction.Detail"/> says why).</summary>
    Reconnect,

    /// <summary>The portal refused the relay for good: exit (<see cref="SessionAction.Detail"/> says why).</summary>
    Fatal,

    /// <summary>A message the relay does not understand: log a warning and carry on.</summary>
    Unexpected,

    /// <summary>A message the relay deliberately ignores (logged at debug).</summary>
    Ignored,
}

public readonly record struct SessionAction(SessionActionKind Kind, byte[]? Frame = null, ulong? Ref = null, string? Detail = null)
{
    public static readonly SessionAction None = new(SessionActionKind.None);
}

/// <summary>
/// The relay's side of one Phoenix Channels connection, without I/O or clocks: the caller feeds it the portal's
/// messages, heartbeat ticks and join timeouts, and carries out the action it returns. Refs count up from 0 on each
/// connection (the join is ref 0). One instance per WebSocket connection.
/// </summary>
public sealed class PhoenixSession
{
    /// <summary>The relay reconnects when more than this many heartbeats are outstanding at the next tick.</summary>
    public const int MaxUnansweredHeartbeats = 3;

    private readonly string _stampSecret;
    private readonly Queue<ulong> _unansweredHeartbeats = new();
    private ulong _nextRef;
    private ulong? _pendingJoin;

    public PhoenixSession(string stampSecret) => _stampSecret = stampSecret;

    public bool IsJoined { get; private set; }

    public int UnansweredHeartbeats => _unansweredHeartbeats.Count;

    /// <summary>The first thing to do once the WebSocket is open: join topic <c>relay</c>.</summary>
    public SessionAction Start() => RequestJoin(null);

    /// <summary>The heartbeat interval elapsed: send a heartbeat, or give up on a connection that stopped answering.</summary>
    public SessionAction HeartbeatDue()
    {
        if (_unansweredHeartbeats.Count > MaxUnansweredHeartbeats)
        {
            return Reconnect($"{_unansweredHeartbeats.Count} heartbeats went unanswered");
        }

        ulong reference = _nextRef++;
        _unansweredHeartbeats.Enqueue(reference);
        return new SessionAction(SessionActionKind.Send, PhoenixCodec.EncodeHeartbeat(reference), reference);
    }

    /// <summary>The join timeout for <paramref name="joinRef"/> elapsed (ignored if that join was answered or superseded).</summary>
    public SessionAction JoinTimedOut(ulong joinRef) =>
        _pendingJoin == joinRef ? Reconnect("the portal did not answer the join in time") : SessionAction.None;

    public SessionAction Handle(PhoenixMessage message)
    {
        switch (message.Event)
        {
            case "phx_reply":
                return HandleReply(message);
            case "init" when message.Topic == PhoenixCodec.RelayTopic:
                return new SessionAction(SessionActionKind.Init);
            case "phx_close":
                IsJoined = false;
                return Reconnect($"the portal closed topic '{message.Topic}'");
            case "phx_error":
                return new SessionAction(SessionActionKind.Ignored, Detail: $"phx_error on topic '{message.Topic}'");
            case "disconnect":
                return message.PayloadReason == "token_expired"
                    ? new SessionAction(SessionActionKind.Fatal, Detail: "the portal token has expired (token_expired): issue a new FIREZONE_TOKEN")
                    : Reconnect($"the portal asked the relay to disconnect ({message.PayloadReason ?? "no reason given"})");
            default:
                return new SessionAction(SessionActionKind.Unexpected, Detail: $"event '{message.Event}' on topic '{message.Topic}'");
        }
    }

    private SessionAction HandleReply(PhoenixMessage message)
    {
        string? status = message.ReplyStatus;
        string? reason = message.ReplyReason;
        if (status == "error" && reason == "unmatched topic")
        {
            // The portal no longer knows our channel (it restarted it): join again on the same connection.
            return RequestJoin($"the portal answered ref {Describe(message.Ref)} on topic '{message.Topic}' with 'unmatched topic'");
        }

        if (message.Topic == PhoenixCodec.PhoenixTopic)
        {
            if (message.Ref is { } r && _unansweredHeartbeats.Contains(r))
            {
                while (_unansweredHeartbeats.Dequeue() != r)
                {
                }

                return SessionAction.None;
            }

            return new SessionAction(SessionActionKind.Ignored, Detail: $"reply to unknown ref {Describe(message.Ref)} on topic 'phoenix'");
        }

        if (message.Topic == PhoenixCodec.RelayTopic && message.Ref is { } joinRef && joinRef == _pendingJoin)
        {
            _pendingJoin = null;
            switch (status)
            {
                case "ok":
                    IsJoined = true;
                    return new SessionAction(SessionActionKind.Joined, Ref: joinRef);
                case "error":
                    return new SessionAction(SessionActionKind.Fatal, Detail: $"the portal refused the relay's join ({reason ?? "no reason given"})");
                default:
                    _pendingJoin = joinRef;
                    return new SessionAction(SessionActionKind.Unexpected, Detail: $"join reply with status '{status ?? "none"}'");
            }
        }

        return new SessionAction(SessionActionKind.Ignored, Detail: $"reply to unknown ref {Describe(message.Ref)} on topic '{message.Topic}'");
    }

    /// <summary>A join (the first, or a rejoin on the same connection when <paramref name="reason"/> is set).</summary>
    private SessionAction RequestJoin(string? reason)
    {
        ulong reference = _nextRef++;
        _pendingJoin = reference;
        IsJoined = false;
        return new SessionAction(SessionActionKind.Join, PhoenixCodec.EncodeJoin(reference, _stampSecret), reference, reason);
    }

    private SessionAction Reconnect(string reason)
    {
        IsJoined = false;
        return new SessionAction(SessionActionKind.Reconnect, Detail: reason);
    }

    private static string Describe(ulong? reference) => reference?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null";
}
