using Relay.Core.Time;

namespace Relay.Core.Policy;

/// <summary>
/// A token bucket of payload bytes for one direction of one allocation (the per-allocation bandwidth cap). It
/// refills at the rate and holds one second of it (at least <see cref="MinimumBurstBytes"/>, so a datagram of any
/// size can pass a slow cap), so a quiet allocation may send a one-second burst.
/// Tokens are kept in thousandths of a byte and refilled per millisecond, so slow rates lose nothing to rounding.
/// A plain struct inside the allocation: taking tokens allocates nothing.
/// </summary>
public struct ByteBudget
{
    /// <summary>The smallest bucket: the largest UDP payload fits, so a slow cap delays big datagrams instead of barring them.</summary>
    public const long MinimumBurstBytes = 65_536;

    private const long Scale = 1000;

    private long _tokens;
    private long _lastRefillMs;

    /// <summary>A full bucket as of <paramref name="now"/>.</summary>
    public static ByteBudget Full(long bytesPerSecond, Instant now) =>
        new() { _tokens = Capacity(bytesPerSecond), _lastRefillMs = now.UnixMilliseconds };

    /// <summary>
    /// Takes <paramref name="bytes"/> if the bucket holds them; false (and nothing taken) otherwise. A
    /// <paramref name="bytesPerSecond"/> of 0 means no cap.
    /// </summary>
    public bool TryTake(int bytes, long bytesPerSecond, Instant now)
    {
        if (bytesPerSecond == 0)
        {
            return true;
        }

        long capacity = Capacity(bytesPerSecond);
        long elapsedMs = now.UnixMilliseconds - _lastRefillMs;
        if (elapsedMs >= capacity / bytesPerSecond)
        {
            _tokens = capacity; // quiet long enough to be full (this also keeps the product below from overflowing)
            _lastRefillMs = now.UnixMilliseconds;
        }
        else if (elapsedMs > 0)
        {
            _tokens = Math.Min(capacity, _tokens + (elapsedMs * bytesPerSecond));
            _lastRefillMs = now.UnixMilliseconds;
        }

        long cost = bytes * Scale;
        if (_tokens < cost)
        {
            return false;
        }

        _tokens -= cost;
        return true;
    }

    private static long Capacity(long bytesPerSecond) => Math.Max(bytesPerSecond, MinimumBurstBytes) * Scale;
}
