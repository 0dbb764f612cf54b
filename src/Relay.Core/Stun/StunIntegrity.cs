using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Relay.Core.Stun;

/// <summary>Which HMAC protects a message: MESSAGE-INTEGRITY (HMAC-SHA1) or MESSAGE-INTEGRITY-SHA256.</summary>
public enum IntegrityKind : byte
{
    Sha1,
    Sha256,
}

/// <summary>Password algorithms of RFC 8489 §18.5 (PASSWORD-ALGORITHM values) used to derive the long-term key.</summary>
public enum PasswordAlgorithm : ushort
{
    Md5 = 0x0001,
    Sha256 = 0x0002,
}

/// <summary>Long-term keys, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT computations (RFC 8489 §9.2.2, §14.5–14.7).</summary>
public static class StunIntegrity
{
    /// <summary>Messages up to this size are hashed from a stack copy; larger ones from a pooled buffer.</summary>
    private const int StackLimit = 1024;

    /// <summary>key = MD5(username ":" realm ":" SASLprep(password)) or SHA-256 of the same string.</summary>
    public static byte[] LongTermKey(string username, string realm, string password, PasswordAlgorithm algorithm = PasswordAlgorithm.Md5)
    {
        string input = username + ":" + realm + ":" + SaslPrep.Prepare(password);
        int max = Encoding.UTF8.GetMaxByteCount(input.Length);
        byte[]? rented = max > StackLimit ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> bytes = rented ?? stackalloc byte[StackLimit];
        try
        {
            int n = Encoding.UTF8.GetBytes(input, bytes);
            return algorithm == PasswordAlgorithm.Sha256 ? SHA256.HashData(bytes[..n]) : MD5.HashData(bytes[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Computes the HMAC of <paramref name="prefix"/> (the message up to the integrity attribute) with the header's
    /// length field set as if the message ended right after an integrity attribute of <paramref name="macLength"/>
    /// bytes. Writes the full-length MAC into <paramref name="mac"/> and returns its length.
    /// </summary>
    public static int ComputeHmac(IntegrityKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> prefix, int macLength, Span<byte> mac)
    {
        byte[]? rented = prefix.Length > StackLimit ? ArrayPool<byte>.Shared.Rent(prefix.Length) : null;
        Span<byte> copy = (rented ?? stackalloc byte[StackLimit])[..prefix.Length];
        try
        {
            prefix.CopyTo(copy);
            BinaryPrimitives.WriteUInt16BigEndian(copy[2..], (ushort)(prefix.Length - StunConstants.HeaderLength + 4 + macLength));
            return kind == IntegrityKind.Sha256 ? HMACSHA256.HashData(key, copy, mac) : HMACSHA1.HashData(key, copy, mac);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Checks MESSAGE-INTEGRITY-SHA256 when present (it is the stronger one), else MESSAGE-INTEGRITY.</summary>
    public static bool Verify(in StunMessage message, ReadOnlySpan<byte> key, out IntegrityKind kind)
    {
        if (message.IntegritySha256Offset >= 0)
        {
            kind = IntegrityKind.Sha256;
            return VerifyAt(message, message.IntegritySha256Offset, IntegrityKind.Sha256, key);
        }

        kind = IntegrityKind.Sha1;
        return message.IntegrityOffset >= 0 && VerifyAt(message, message.IntegrityOffset, IntegrityKind.Sha1, key);
    }

    private static bool VerifyAt(in StunMessage message, int offset, IntegrityKind kind, ReadOnlySpan<byte> key)
    {
        ReadOnlySpan<byte> received = message.ValueAt(offset);
        Span<byte> mac = stackalloc byte[32];
        ComputeHmac(kind, key, message.Raw[..offset], received.Length, mac);
        return CryptographicOperations.FixedTimeEquals(mac[..received.Length], received);
    }

    /// <summary>CRC-32 of the message before FINGERPRINT (length field covering FINGERPRINT), XOR 0x5354554E.</summary>
    public static uint ComputeFingerprint(ReadOnlySpan<byte> prefix)
    {
        Span<byte> header = stackalloc byte[StunConstants.HeaderLength];
        prefix[..StunConstants.HeaderLength].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(prefix.Length - StunConstants.HeaderLength + 8));
        uint crc = Crc32.Append(0xFFFF_FFFFu, header);
        crc = Crc32.Append(crc, prefix[StunConstants.HeaderLength..]);
        return ~crc ^ StunConstants.FingerprintXor;
    }
}
