using Relay.Core.Randomness;
using Relay.Core.Time;

namespace Relay.Core.Server;

/// <summary>
/// The relay port range. A port is either free or held (by a live allocation or a reservation); a port the host
/// failed to bind is quarantined for a while so the next pick avoids it. Picks are uniformly random, so ports are
/// not predictable from one allocation to the next.
/// </summary>
internal sealed class PortPool
{
    private const int RandomProbes = 64;

    private readonly bool[] _held;
    private readonly Dictionary<ushort, Instant> _quarantine = new();
    private readonly IRandomSource _random;

    private readonly ushort? _excluded;

    /// <param name="excluded">A port in the range that is never handed out (the listening port, when the OS chose it there).</param>
    public PortPool(ushort lowest, ushort highest, IRandomSource random, ushort? excluded = null)
    {
        Lowest = lowest;
        Highest = highest;
        _held = new bool[highest - lowest + 1];
        _random = random;
        _excluded = excluded;
    }

    public ushort Lowest { get; }

    public ushort Highest { get; }

    public int HeldCount { get; private set; }

    public int Size => _held.Length;

    public bool Contains(ushort port) => port >= Lowest && port <= Highest;

    public bool IsHeld(ushort port) => Contains(port) && _held[port - Lowest];

    public void Release(ushort port)
    {
        if (IsHeld(port))
        {
            _held[port - Lowest] = false;
            HeldCount--;
        }
    }

    public void Quarantine(ushort port, Instant until) => _quarantine[port] = until;

    /// <summary>
    /// Picks and holds a free port; with <paramref name="even"/> an even one, and with <paramref name="pair"/> also
    /// holds the next (odd) port for a reservation. Random probes first, then a scan from a random start.
    /// </summary>
    public bool TryAcquire(bool even, bool pair, Instant now, out ushort port)
    {
        int size = _held.Length;
        for (int probe = 0; probe < RandomProbes; probe++)
        {
            int index = _random.NextInt(size);
            if (TryTake(index, even, pair, now, out port))
            {
                return true;
            }
        }

        int start = _random.NextInt(size);
        for (int i = 0; i < size; i++)
        {
            if (TryTake((start + i) % size, even, pair, now, out port))
            {
                return true;
            }
        }

        port = 0;
        return false;
    }

    private bool TryTake(int index, bool even, bool pair, Instant now, out ushort port)
    {
        port = (ushort)(Lowest + index);
        bool needsEven = even || pair;
        if ((needsEven && (port & 1) != 0) || !IsUsable(port, now) || (pair && (port == Highest || !IsUsable((ushort)(port + 1), now))))
        {
            return false;
        }

        Hold(port);
        if (pair)
        {
            Hold((ushort)(port + 1));
        }

        return true;
    }

    private bool IsUsable(ushort port, Instant now)
    {
        if (_held[port - Lowest] || port == _excluded)
        {
            return false;
        }

        if (_quarantine.TryGetValue(port, out Instant until))
        {
            if (until > now)
            {
                return false;
            }

            _quarantine.Remove(port);
        }

        return true;
    }

    private void Hold(ushort port)
    {
        _held[port - Lowest] = true;
        HeldCount++;
    }
}
