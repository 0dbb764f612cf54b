using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Relay.Core.Net;
using Relay.Core.Randomness;
using Relay.Core.Time;

namespace Relay.Core.Auth;

public enum NonceVerdict
{
    Valid,

    /// <summary>Well-formed and authentic but too old, or minted under a key that has rotated out: 438.</summary>
    Stale,

    /// <summary>Not a nonce this relay minted for this client (forged, altered, another client's): also 438.</summary>
    Invalid,
}

/// <summary>
/// Nonces that need no per-client state: <c>"obMatJos2gAAA"</c> (RFC 8489 §9.2's nonce cookie with the "password
/// algorithms" security feature: the relay offers SHA-256), then <c>"1" + 8 hex digits of issue time (Unix
/// seconds) + 24 hex digits of HMAC-SHA256(key, time ‖ client address ‖ client port)</c>. A flood of unauthenticated requests from spoofed
/// sources therefore costs one HMAC each and no memory (the reference keeps a nonce per source forever).
/// The key rotates every <see cref="Lifetime"/>; the previous key is kept so a nonce is valid for one full lifetime.
/// </summary>
public sealed class StatelessNonces
{
    /// <summary>"obMatJos2" and the base64 of the 24 feature bits 0x800000 (password algorithms; no username anonymity).</summary>
    public const string Cookie = "obMatJos2gAAA";

    public const int Length = 13 + InnerLength; // the cookie, then the time and MAC
    private const int InnerLength = 33;

    private static ReadOnlySpan<byte> CookieBytes => "obMatJos2gAAA"u8;
    private const int MacHexLength = 24;

    private readonly IRandomSource _random;
    private readonly long _lifetimeSeconds;
    private long _currentEpoch = long.MinValue;
    private byte[] _currentKey = [];
    private byte[]? _previousKey;

    public StatelessNonces(IRandomSource random, TimeSpan lifetime)
    {
        if (lifetime < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), "A nonce must live at least one second.");
        }

        _random = random;
        _lifetimeSeconds = (long)lifetime.TotalSeconds;
    }

    public TimeSpan Lifetime => TimeSpan.FromSeconds(_lifetimeSeconds);

    public string Issue(ClientSocket client, Instant now)
    {
        long issued = now.UnixSeconds;
        Span<char> text = stackalloc char[Length];
        Cookie.CopyTo(text);
        Span<char> inner = text[Cookie.Length..];
        inner[0] = '1';
        ((uint)issued).TryFormat(inner[1..], out _, "x8", CultureInfo.InvariantCulture);
        Span<byte> mac = stackalloc byte[32];
        ComputeMac(KeyFor(issued, now)!, (uint)issued, client, mac);
        Convert.TryToHexStringLower(mac[..(MacHexLength / 2)], inner[9..], out _);
        return new string(text);
    }

    public NonceVerdict Verify(ReadOnlySpan<byte> nonce, ClientSocket client, Instant now)
    {
        if (nonce.Length != Length || !nonce.StartsWith(CookieBytes))
        {
            return NonceVerdict.Invalid;
        }

        nonce = nonce[Cookie.Length..];
        if (nonce[0] != (byte)'1' || !TryParseHex(nonce.Slice(1, 8), out uint issuedLow))
        {
            return NonceVerdict.Invalid;
        }

        // Reconstruct the full issue time from its low 32 bits (valid until 2106, and beyond by wrapping).
        long nowSeconds = now.UnixSeconds;
        long issued = (nowSeconds & ~0xFFFF_FFFFL) | issuedLow;
        if (issued > nowSeconds)
        {
            issued -= 0x1_0000_0000L;
        }

        byte[]? key = KeyFor(issued, now);
        if (key is null)
        {
            return NonceVerdict.Stale;
        }

        Span<byte> mac = stackalloc byte[32];
        ComputeMac(key, issuedLow, client, mac);
        Span<byte> expected = stackalloc byte[MacHexLength];
        for (int i = 0; i < MacHexLength / 2; i++)
        {
            expected[2 * i] = HexDigit(mac[i] >> 4);
            expected[(2 * i) + 1] = HexDigit(mac[i] & 0xF);
        }

        if (!CryptographicOperations.FixedTimeEquals(expected, nonce[9..]))
        {
            return NonceVerdict.Invalid;
        }

        return nowSeconds - issued >= _lifetimeSeconds ? NonceVerdict.Stale : NonceVerdict.Valid;
    }

    /// <summary>The key of the epoch <paramref name="issued"/> falls in, if it is the current or previous one.</summary>
    private byte[]? KeyFor(long issued, Instant now)
    {
        long nowEpoch = Math.DivRem(now.UnixSeconds, _lifetimeSeconds, out long rem) - (rem < 0 ? 1 : 0);
        Rotate(nowEpoch);
        long epoch = Math.DivRem(issued, _lifetimeSeconds, out rem) - (rem < 0 ? 1 : 0);
        if (epoch == _currentEpoch)
        {
            return _currentKey;
        }

        return epoch == _currentEpoch - 1 ? _previousKey : null;
    }

    private void Rotate(long epoch)
    {
        if (epoch <= _currentEpoch)
        {
            return;
        }

        _previousKey = epoch == _currentEpoch + 1 ? _currentKey : null;
        _currentKey = new byte[32];
        _random.Fill(_currentKey);
        _currentEpoch = epoch;
    }

    private static void ComputeMac(byte[] key, uint issued, ClientSocket client, Span<byte> mac)
    {
        Span<byte> input = stackalloc byte[4 + 16 + 2 + 1];
        BinaryPrimitives.WriteUInt32BigEndian(input, issued);
        client.Address.Address.WriteTo(input[4..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[20..], client.Address.Port);
        input[22] = (byte)client.Family;
        HMACSHA256.HashData(key, input, mac);
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);

    private static bool TryParseHex(ReadOnlySpan<byte> hex, out uint value)
    {
        value = 0;
        foreach (byte b in hex)
        {
            int digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | (uint)digit;
        }

        return true;
    }
}
