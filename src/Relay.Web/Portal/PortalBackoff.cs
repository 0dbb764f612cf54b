using System.Globalization;

namespace Relay.Web.Portal;

/// <summary>
/// Exponential backoff with jitter, pure (randomness injected): the interval starts at <c>initial</c> and grows by
/// <c>multiplier</c> after every delay up to <c>max</c>; each delay is the interval randomized by ±<c>randomization</c>
/// and then capped at <c>max</c>, so no single wait exceeds it.
/// </summary>
public sealed class ExponentialBackoff
{
    private readonly TimeSpan _initial;
    private readonly double _multiplier;
    private readonly TimeSpan _max;
    private readonly double _randomization;
    private readonly Func<double> _random;

    /// <param name="random">Uniform in [0, 1).</param>
    public ExponentialBackoff(TimeSpan initial, double multiplier, TimeSpan max, double randomization, Func<double> random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(multiplier, 1.0);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        if (randomization is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(randomization), "must be in [0, 1)");
        }

        _initial = initial;
        _multiplier = multiplier;
        _max = max;
        _randomization = randomization;
        _random = random;
        CurrentInterval = initial;
    }

    /// <summary>The reconnect policy after a first successful join: 500 ms, ×1.5, at most 60 s, ±50 % jitter.</summary>
    public static ExponentialBackoff ForReconnects(Func<double> random) =>
        new(TimeSpan.FromMilliseconds(500), 1.5, TimeSpan.FromSeconds(60), 0.5, random);

    /// <summary>The interval the next delay is drawn around.</summary>
    public TimeSpan CurrentInterval { get; private set; }

    public TimeSpan Next()
    {
        double factor = 1 + (_randomization * ((2 * _random()) - 1));
        var delay = TimeSpan.FromTicks((long)(CurrentInterval.Ticks * factor));
        CurrentInterval = TimeSpan.FromTicks(Math.Min((long)(CurrentInterval.Ticks * _multiplier), _max.Ticks));
        return delay > _max ? _max : delay;
    }

    public void Reset() => CurrentInterval = _initial;
}

/// <summary>Whether and when to try the portal again.</summary>
public readonly record struct RetryDecision(bool GiveUp, TimeSpan Delay)
{
    public static RetryDecision After(TimeSpan delay) => new(false, delay);

    public static readonly RetryDecision Stop = new(true, TimeSpan.Zero);
}

/// <summary>
/// The portal client's retry policy, pure (time and randomness are passed in).
/// <list type="bullet">
/// <item>Until the first successful join: an attempt every second; no attempt starts 15 s or more after the first
/// one began, so a relay that cannot reach (or is refused by) the portal exits within 15 s of starting.</item>
/// <item>After a join: exponential backoff (<see cref="ExponentialBackoff.ForReconnects"/>), reset by every join,
/// for at most 24 h counted from the moment the joined connection was lost (wall time, attempts included).</item>
/// <item>A <c>Retry-After</c> from the portal replaces the computed delay (still within the budget).</item>
/// </list>
/// </summary>
public sealed class PortalRetryPlanner
{
    public static readonly TimeSpan InitialInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan InitialBudget = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan ReconnectBudget = TimeSpan.FromHours(24);

    /// <summary>The longest one connection attempt (TCP, TLS, HTTP upgrade) may take.</summary>
    public static readonly TimeSpan MaxAttemptDuration = TimeSpan.FromSeconds(15);

    private readonly ExponentialBackoff _backoff;
    private bool _joined;

    public PortalRetryPlanner(DateTimeOffset start, Func<double> random)
    {
        OutageStart = start;
        _backoff = ExponentialBackoff.ForReconnects(random);
    }

    /// <summary>True once the relay has joined the portal at least once in this process.</summary>
    public bool EverJoined { get; private set; }

    /// <summary>When the relay started trying (before the first join) or lost its last joined connection.</summary>
    public DateTimeOffset OutageStart { get; private set; }

    public TimeSpan Budget => EverJoined ? ReconnectBudget : InitialBudget;

    public void Joined()
    {
        EverJoined = true;
        _joined = true;
        _backoff.Reset();
    }

    /// <summary>A connection (joined or not) ended at <paramref name="now"/>.</summary>
    public void ConnectionEnded(DateTimeOffset now)
    {
        if (_joined)
        {
            _joined = false;
            OutageStart = now;
        }
    }

    /// <summary>How long the attempt starting at <paramref name="now"/> may take (never past the start-up deadline).</summary>
    public TimeSpan AttemptTimeout(DateTimeOffset now)
    {
        if (EverJoined)
        {
            return MaxAttemptDuration;
        }

        TimeSpan left = OutageStart + InitialBudget - now;
        return left < TimeSpan.Zero ? TimeSpan.Zero : left < MaxAttemptDuration ? left : MaxAttemptDuration;
    }

    /// <summary>After a failed attempt or a lost connection at <paramref name="now"/>: wait, or give up.</summary>
    public RetryDecision Next(DateTimeOffset now, TimeSpan? retryAfter)
    {
        TimeSpan delay = retryAfter ?? (EverJoined ? _backoff.Next() : InitialInterval);
        return delay >= Budget - (now - OutageStart) ? RetryDecision.Stop : RetryDecision.After(delay);
    }

    /// <summary>An HTTP <c>Retry-After</c> value: delay-seconds or an HTTP date (past dates mean now); null if neither.</summary>
    public static TimeSpan? ParseRetryAfter(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            return TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.MaxValue.TotalSeconds / 2));
        }

        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }
}
