using Relay.Core.Net;
using Relay.Core.Randomness;
using Relay.Core.Time;

namespace Relay.Core.Policy;

/// <summary>
/// Token buckets per source IP in a fixed-size table, so a flood from millions of (spoofed) sources costs no more
/// memory than one from a single source. The slot is a keyed hash of the address (the key comes from the injected
/// randomness, so an attacker cannot aim at a victim's slot); sources that share a slot share a bucket, which only
/// ever makes the limit stricter.
/// </summary>
public sealed class SourceRateLimiter
{
    /// <summary>Slots in the table: 16384 × 12 bytes, fixed at construction.</summary>
    public const int Slots = 1 << 14;

    private const long Scale = 1000; // tokens are counted in thousandths, refilled per millisecond

    private readonly long[] _lastRefill = new long[Slots];
    private readonly long[] _tokens = new long[Slots];
    private readonly ulong _key0;
    private readonly ulong _key1;
    private readonly long _ratePerSecond;
    private readonly long _capacity;

    /// <param name="ratePerSecond">Sustained responses per second per source; 0 turns the limiter off.</param>
    /// <param name="burst">Responses a quiet source may get at once.</param>
    public SourceRateLimiter(int ratePerSecond, int burst, IRandomSource random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _ratePerSecond = ratePerSecond;
        _capacity = burst * Scale;
        _key0 = random.NextUInt64();
        _key1 = random.NextUInt64();
        Array.Fill(_lastRefill, long.MinValue);
    }

    /// <summary>Takes one token from <paramref name="source"/>'s bucket; false when it is empty.</summary>
    public bool TryAcquire(IpAddr source, Instant now)
    {
        if (_ratePerSecond == 0)
        {
            return true;
        }

        int slot = Slot(source);
        long nowMs = now.UnixMilliseconds;
        long last = _lastRefill[slot];
        long tokens = _tokens[slot];
        if (last == long.MinValue || nowMs - last >= _capacity / _ratePerSecond)
        {
            tokens = _capacity; // long enough quiet to be full again (or never seen)
        }
        else if (nowMs > last)
        {
            tokens = Math.Min(_capacity, tokens + ((nowMs - last) * _ratePerSecond));
        }

        _lastRefill[slot] = Math.Max(nowMs, last);
        if (tokens < Scale)
        {
            _tokens[slot] = tokens;
            return false;
        }

        _tokens[slot] = tokens - Scale;
        return true;
    }

    private int Slot(IpAddr source)
    {
        ulong h = (source.High ^ _key0) * 0x9E37_79B9_7F4A_7C15UL;
        h ^= source.Low ^ _key1;
        h *= 0xBF58_476D_1CE4_E5B9UL;
        h ^= h >> 31;
        h *= 0x94D0_49BB_1331_11EBUL;
        h ^= h >> 29;
        return (int)(h & (Slots - 1));
    }
}
