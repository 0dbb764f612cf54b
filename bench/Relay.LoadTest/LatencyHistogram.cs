using System.Numerics;

namespace Relay.LoadTest;

/// <summary>
/// Log-linear histogram of nanosecond values (HdrHistogram-like): exact below 128 ns, then 64 buckets per power of
/// two, so a reported percentile is within 1/64 (1.6 %) of the true value. One per receive thread; merged at the end.
/// Recording does not allocate.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 6;
    private const int Sub = 1 << SubBits;          // 64 sub-buckets per octave
    private const int Linear = 2 * Sub;            // 0..127 recorded exactly
    private readonly long[] _counts = new long[Linear + (64 * Sub)];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public long Min { get; private set; } = long.MaxValue;

    public double Sum { get; private set; }

    public void Record(long value)
    {
        if (value < 0)
        {
            value = 0;
        }

        _counts[Index(value)]++;
        Count++;
        Sum += value;
        if (value > Max)
        {
            Max = value;
        }

        if (value < Min)
        {
            Min = value;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Sum += other.Sum;
        Max = Math.Max(Max, other.Max);
        Min = Math.Min(Min, other.Min);
    }

    public double Mean => Count == 0 ? 0 : Sum / Count;

    /// <summary>The value at quantile <paramref name="q"/> (0..1): the middle of its bucket, capped at <see cref="Max"/>.</summary>
    public long Quantile(double q)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Clamp(Middle(i), Min, Max);
            }
        }

        return Max;
    }

    private static int Index(long value)
    {
        if (value < Linear)
        {
            return (int)value;
        }

        int msb = 63 - BitOperations.LeadingZeroCount((ulong)value); // >= 7
        int shift = msb - SubBits;                                     // >= 1
        int top = (int)(value >> shift);                               // 64..127
        return Linear + ((shift - 1) * Sub) + (top - Sub);
    }

    private static long Middle(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        int shift = ((index - Linear) / Sub) + 1;
        long top = ((index - Linear) % Sub) + Sub;
        return (top << shift) + ((1L << shift) / 2);
    }
}
