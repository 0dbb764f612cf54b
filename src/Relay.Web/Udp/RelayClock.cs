using Relay.Core.Time;

namespace Relay.Web.Udp;

/// <summary>
/// The engine's time: the wall clock read once at start, advanced by a monotonic clock, so lifetimes never jump
/// with NTP steps while Unix-time credential expiry still compares correctly.
/// </summary>
public sealed class RelayClock
{
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly long _startUnixMs;

    public RelayClock(TimeProvider time)
    {
        _time = time;
        _startTimestamp = time.GetTimestamp();
        _startUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
    }

    public Instant Now() => new(_startUnixMs + (long)_time.GetElapsedTime(_startTimestamp).TotalMilliseconds);
}
