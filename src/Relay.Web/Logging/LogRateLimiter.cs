namespace Relay.Web.Logging;

/// <summary>
/// Lets at most <c>perWindow</c> log lines per reason through in each window, so a misbehaving client or a flood
/// cannot fill the log; how many were held back is reported with the first line of the next window. Thread-safe.
/// </summary>
public sealed class LogRateLimiter(TimeProvider time, int perWindow = 5, TimeSpan? window = null)
{
    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(1);
    private readonly Dictionary<string, State> _reasons = new(StringComparer.Ordinal);

    /// <summary>
    /// True when a line for <paramref name="reason"/> may be written now; <paramref name="heldBack"/> is then the
    /// number of lines held back in the window before (0 if none).
    /// </summary>
    public bool TryAcquire(string reason, out int heldBack)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_reasons)
        {
            if (!_reasons.TryGetValue(reason, out State? state) || now - state.Start >= _window)
            {
                heldBack = state?.HeldBack ?? 0;
                _reasons[reason] = new State { Start = now, Written = 1 };
                return true;
            }

            heldBack = 0;
            if (state.Written < perWindow)
            {
                state.Written++;
                return true;
            }

            state.HeldBack++;
            return false;
        }
    }

    private sealed class State
    {
        public DateTimeOffset Start { get; init; }

        public int Written { get; set; }

        public int HeldBack { get; set; }
    }
}
