namespace Relay.Core.Time;

/// <summary>
/// A point in time, in milliseconds since the Unix epoch. The engine never reads a clock: every input carries the
/// current <see cref="Instant"/>. The host should derive it from a monotonic clock anchored to wall-clock time at
/// start, so lifetimes never jump while credential expiry (Unix seconds in usernames) still compares correctly.
/// </summary>
public readonly record struct Instant(long UnixMilliseconds) : IComparable<Instant>
{
    public static Instant FromUnixSeconds(long seconds) => new(seconds * 1000);

    public static Instant FromDateTimeOffset(DateTimeOffset time) => new(time.ToUnixTimeMilliseconds());

    /// <summary>Whole seconds since the Unix epoch (rounded down).</summary>
    public long UnixSeconds => Math.DivRem(UnixMilliseconds, 1000, out long rem) - (rem < 0 ? 1 : 0);

    public DateTimeOffset ToDateTimeOffset() => DateTimeOffset.FromUnixTimeMilliseconds(UnixMilliseconds);

    public int CompareTo(Instant other) => UnixMilliseconds.CompareTo(other.UnixMilliseconds);

    public static Instant operator +(Instant instant, TimeSpan span) => new(instant.UnixMilliseconds + (long)span.TotalMilliseconds);

    public static Instant operator -(Instant instant, TimeSpan span) => new(instant.UnixMilliseconds - (long)span.TotalMilliseconds);

    public static TimeSpan operator -(Instant left, Instant right) => TimeSpan.FromMilliseconds(left.UnixMilliseconds - right.UnixMilliseconds);

    public static bool operator <(Instant left, Instant right) => left.UnixMilliseconds < right.UnixMilliseconds;

    public static bool operator >(Instant left, Instant right) => left.UnixMilliseconds > right.UnixMilliseconds;

    public static bool operator <=(Instant left, Instant right) => left.UnixMilliseconds <= right.UnixMilliseconds;

    public static bool operator >=(Instant left, Instant right) => left.UnixMilliseconds >= right.UnixMilliseconds;

    public static Instant Min(Instant a, Instant b) => a < b ? a : b;

    public static Instant Max(Instant a, Instant b) => a > b ? a : b;

    public override string ToString() => ToDateTimeOffset().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
}
