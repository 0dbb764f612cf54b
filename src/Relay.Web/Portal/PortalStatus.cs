using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Portal;

public enum PortalState
{
    /// <summary>No connection (standalone mode, waiting to retry, or exiting).</summary>
    Disconnected,

    /// <summary>Connecting the WebSocket or waiting for the join reply.</summary>
    Connecting,

    /// <summary>Joined to topic <c>relay</c>: the portal hands this relay to clients.</summary>
    Joined,
}

/// <summary>A consistent copy of <see cref="PortalStatus"/> (for metrics and the admin API).</summary>
/// <param name="Enabled">True in portal mode (a token is configured).</param>
/// <param name="Url">The portal URL without its query string (null in standalone mode).</param>
/// <param name="StateSince">When <paramref name="State"/> was entered.</param>
/// <param name="LastJoinedAt">The last successful join.</param>
/// <param name="JoinCount">Successful joins, rejoins on the same connection included.</param>
/// <param name="ReconnectCount">Connection attempts after the first one.</param>
/// <param name="LastError">Why the last connection or attempt ended (never contains the token).</param>
/// <param name="NextAttemptAt">When the next attempt starts, while waiting to retry.</param>
/// <param name="HeartbeatsAnswered">Heartbeats the portal has answered, over all connections (liveness).</param>
public sealed record PortalStatusSnapshot(
    bool Enabled,
    string? Url,
    PortalState State,
    DateTimeOffset StateSince,
    DateTimeOffset? LastJoinedAt,
    long JoinCount,
    long ReconnectCount,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    long HeartbeatsAnswered = 0);

/// <summary>
/// The portal connection's state, written by the portal client and read by health, metrics and the admin API.
/// Entering or leaving <see cref="PortalState.Joined"/> updates <see cref="RelayRuntime.PortalJoined"/> (which
/// drives <c>/readyz</c>). Thread-safe.
/// </summary>
public sealed class PortalStatus
{
    private readonly object _gate = new();
    private readonly RelayRuntime _runtime;
    private readonly TimeProvider _time;
    private PortalStatusSnapshot _snapshot;

    public PortalStatus(RelaySettings settings, RelayRuntime runtime, TimeProvider time)
    {
        _runtime = runtime;
        _time = time;
        _snapshot = new PortalStatusSnapshot(settings.PortalMode, null, PortalState.Disconnected, time.GetUtcNow(), null, 0, 0, null, null);
    }

    public PortalStatusSnapshot Snapshot()
    {
        lock (_gate)
        {
            return _snapshot;
        }
    }

    public PortalState State => Snapshot().State;

    public bool Enabled => Snapshot().Enabled;

    public DateTimeOffset? LastJoinedAt => Snapshot().LastJoinedAt;

    public long ReconnectCount => Snapshot().ReconnectCount;

    public string? LastError => Snapshot().LastError;

    public DateTimeOffset? NextAttemptAt => Snapshot().NextAttemptAt;

    internal void SetUrl(string url) => Update(s => s with { Url = url });

    internal void HeartbeatAnswered() => Update(s => s with { HeartbeatsAnswered = s.HeartbeatsAnswered + 1 });

    internal void Connecting(bool isRetry) => Update(s => s with
    {
        State = PortalState.Connecting,
        StateSince = s.State == PortalState.Connecting ? s.StateSince : _time.GetUtcNow(),
        ReconnectCount = s.ReconnectCount + (isRetry ? 1 : 0),
        NextAttemptAt = null,
    });

    /// <summary>A rejoin on the open connection: not joined until the portal answers.</summary>
    internal void Rejoining(string reason) => Update(s => s with { State = PortalState.Connecting, StateSince = _time.GetUtcNow(), LastError = reason });

    internal void Joined() => Update(s =>
    {
        DateTimeOffset now = _time.GetUtcNow();
        return s with { State = PortalState.Joined, StateSince = now, LastJoinedAt = now, JoinCount = s.JoinCount + 1, NextAttemptAt = null };
    });

    internal void Disconnected(string reason, DateTimeOffset? nextAttemptAt) => Update(s => s with
    {
        State = PortalState.Disconnected,
        StateSince = s.State == PortalState.Disconnected ? s.StateSince : _time.GetUtcNow(),
        LastError = reason,
        NextAttemptAt = nextAttemptAt,
    });

    private void Update(Func<PortalStatusSnapshot, PortalStatusSnapshot> change)
    {
        lock (_gate)
        {
            PortalStatusSnapshot previous = _snapshot;
            PortalStatusSnapshot next = change(previous);
            _snapshot = next;

            // Only transitions touch the flag, so nothing else that sets it is overwritten while we are not joined.
            if (previous.State == PortalState.Joined || next.State == PortalState.Joined)
            {
                _runtime.PortalJoined = next.State == PortalState.Joined;
            }
        }
    }
}
