using Relay.Core.Time;

namespace Relay.Core.Server;

/// <summary>Something with a deadline the engine must act on (allocation, channel, permission, reservation).</summary>
internal abstract class Timed
{
    /// <summary>Earliest instant this object currently sits in the queue at, or null when it is not queued.</summary>
    internal Instant? ScheduledAt;

    /// <summary>When the engine must next look at this object.</summary>
    public abstract Instant Deadline { get; }

    /// <summary>Removed objects are skipped when their entry surfaces.</summary>
    public bool Removed { get; set; }
}

/// <summary>
/// A min-heap of deadlines with lazy deletion: refreshing an object only moves its <see cref="Timed.Deadline"/>;
/// when a stale entry surfaces it is re-queued at the current deadline. Only a deadline that moves earlier needs a
/// new entry. This keeps <see cref="RelayServer.PollTimeout"/> O(1) and a refresh O(1).
/// </summary>
internal sealed class TimerQueue
{
    private readonly PriorityQueue<Timed, long> _heap = new();

    public int Count => _heap.Count;

    public void Schedule(Timed item)
    {
        Instant deadline = item.Deadline;
        if (item.ScheduledAt is { } at && at <= deadline)
        {
            return; // an entry at or before the deadline exists; it re-queues itself when it surfaces
        }

        item.ScheduledAt = deadline;
        _heap.Enqueue(item, deadline.UnixMilliseconds);
    }

    public Instant? Peek() => _heap.TryPeek(out _, out long at) ? new Instant(at) : null;

    /// <summary>Returns the next object whose deadline has passed, re-queuing entries that turned out early.</summary>
    public bool TryPopDue(Instant now, out Timed item)
    {
        while (_heap.TryPeek(out item!, out long at) && at <= now.UnixMilliseconds)
        {
            _heap.Dequeue();
            if (item.ScheduledAt?.UnixMilliseconds != at)
            {
                continue; // superseded by an earlier entry
            }

            item.ScheduledAt = null;
            if (item.Removed)
            {
                continue;
            }

            if (item.Deadline > now)
            {
                Schedule(item);
                continue;
            }

            return true;
        }

        item = null!;
        return false;
    }
}
