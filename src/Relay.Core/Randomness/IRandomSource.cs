namespace Relay.Core.Randomness;

/// <summary>
/// The engine's only source of randomness (ports, nonce keys, the relay secret, reservation tokens, Data
/// indication transaction ids). Injected so that tests and <c>--rng-seed</c> runs are reproducible.
/// </summary>
public interface IRandomSource
{
    void Fill(Span<byte> destination);

    ulong NextUInt64();
}

public static class RandomSourceExtensions
{
    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>) (Lemire's multiply-shift, rejection on bias).</summary>
    public static int NextInt(this IRandomSource random, int exclusiveMax)
    {
        if (exclusiveMax <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(exclusiveMax));
        }

        ulong range = (ulong)exclusiveMax;
        while (true)
        {
            ulong x = random.NextUInt64() >> 32;
            ulong m = x * range;
            if ((uint)m >= (uint)((0x1_0000_0000UL - range) % range))
            {
                return (int)(m >> 32);
            }
        }
    }

    /// <summary>64 lowercase hex characters from 32 random bytes (the relay secret's format).</summary>
    public static string NextHexSecret(this IRandomSource random)
    {
        Span<byte> bytes = stackalloc byte[32];
        random.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
