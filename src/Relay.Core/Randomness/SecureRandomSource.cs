using System.Security.Cryptography;

namespace Relay.Core.Randomness;

/// <summary>
/// Cryptographically secure randomness from the OS, drawn 4 KiB at a time so that per-packet uses (Data indication
/// transaction ids) cost a copy rather than a system call. Not thread-safe: the engine is single-threaded.
/// </summary>
public sealed class SecureRandomSource : IRandomSource
{
    private readonly byte[] _pool = new byte[4096];
    private int _next;

    public SecureRandomSource() => _next = _pool.Length;

    public void Fill(Span<byte> destination)
    {
        if (destination.Length > _pool.Length / 4)
        {
            RandomNumberGenerator.Fill(destination);
            return;
        }

        if (_pool.Length - _next < destination.Length)
        {
            RandomNumberGenerator.Fill(_pool);
            _next = 0;
        }

        _pool.AsSpan(_next, destination.Length).CopyTo(destination);
        _pool.AsSpan(_next, destination.Length).Clear();
        _next += destination.Length;
    }

    public ulong NextUInt64()
    {
        Span<byte> bytes = stackalloc byte[8];
        Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
