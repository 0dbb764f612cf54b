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
/// new entry. This keeps <see cref="RelayServer.PollTimeout"/> O(1) and a refresh O(1). Entries of cancelled or
/// superseded objects are dead weight that would keep deleted allocations alive until their old deadline (an
/// Allocate/Refresh(0) loop could pin memory for an hour), so the heap is rebuilt whenever they outnumber the live
/// ones: memory stays within twice the live objects, at amortised O(1) per cancellation.
/// </summary>
internal sealed class TimerQueue
{
    private const int CompactionFloor = 256;

    private readonly PriorityQueue<Timed, long> _heap = new();
    private int _stale;

    public int Count => _heap.Count;

    /// <summary>Entries that no longer belong to a live schedule (for tests).</summary>
    public int StaleCount => _stale;

    public void Schedule(Timed item)
    {
        Instant deadline = item.Deadline;
        if (item.ScheduledAt is { } at)
        {
            if (at <= deadline)
            {
                return; // an entry at or before the deadline exists; it re-queues itself when it surfaces
            }

            _stale++; // the later entry is superseded by the one below
        }

        item.ScheduledAt = deadline;
        _heap.Enqueue(item, deadline.UnixMilliseconds);
        CompactIfMostlyStale();
    }

    /// <summary>Drops the object's schedule: it is gone (deleted allocation, removed channel...).</summary>
    public void Cancel(Timed item)
    {
        item.Removed = true;
        if (item.ScheduledAt is not null)
        {
            item.ScheduledAt = null;
            _stale++;
            CompactIfMostlyStale();
        }
    }

    private void CompactIfMostlyStale()
    {
        if (_stale < CompactionFloor || _stale * 2 < _heap.Count)
        {
            return;
        }

        var live = new List<(Timed, long)>(_heap.Count - _stale);
        foreach (var (item, at) in _heap.UnorderedItems)
        {
            if (item.ScheduledAt?.UnixMilliseconds == at)
            {
                live.Add((item, at));
            }
        }

        _heap.Clear();
        _heap.EnqueueRange(live);
        _stale = 0;
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
                _stale = Math.Max(0, _stale - 1);
                continue; // cancelled, or superseded by an earlier entry
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
