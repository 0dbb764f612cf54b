using System.Buffers.Binary;
using System.Text;
using Relay.Core.Net;

namespace Relay.Core.Stun;

/// <summary>
/// Builds a STUN message into a caller-provided buffer: header first, then attributes in call order, then
/// optionally MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT. Padding is written as zeros. The header's length field
/// is kept current after every call, so <see cref="Written"/> is always a complete message.
/// </summary>
public ref struct StunMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public StunMessageWriter(Span<byte> buffer, ushort messageType, scoped ReadOnlySpan<byte> transactionId)
    {
        if (transactionId.Length != StunConstants.TransactionIdLength)
        {
            throw new ArgumentException("A STUN transaction id is 12 bytes.", nameof(transactionId));
        }

        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, messageType);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunConstants.MagicCookie);
        transactionId.CopyTo(buffer[8..]);
        _length = StunConstants.HeaderLength;
        UpdateLength();
    }

    public StunMessageWriter(Span<byte> buffer, StunMethod method, StunClass cls, scoped ReadOnlySpan<byte> transactionId)
        : this(buffer, StunMessageType.Encode(method, cls), transactionId)
    {
    }

    public readonly int Length => _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>The 20-byte header (cookie and transaction id are the XOR key of address attributes).</summary>
    public readonly ReadOnlySpan<byte> Header => _buffer[..StunConstants.HeaderLength];

    public void AddAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        Span<byte> slot = Reserve(type, value.Length);
        value.CopyTo(slot);
    }

    public void AddUInt32(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(type, 4), value);

    public void AddString(ushort type, string value)
    {
        Span<byte> slot = Reserve(type, Encoding.UTF8.GetByteCount(value));
        Encoding.UTF8.GetBytes(value, slot);
    }

    public void AddXorAddress(ushort type, TransportAddress address)
    {
        Span<byte> slot = Reserve(type, 4 + address.Address.ByteLength);
        XorAddress.Encode(address, Header, slot);
    }

    /// <summary>ERROR-CODE (RFC 8489 §14.8): class = hundreds, number = remainder, UTF-8 reason.</summary>
    /// <summary>A plain (not XOR'd) address attribute, MAPPED-ADDRESS style: ALTERNATE-SERVER (RFC 8489 §14.15).</summary>
    public void AddAddress(ushort type, TransportAddress address)
    {
        Span<byte> value = Reserve(type, 4 + address.Address.ByteLength);
        value[0] = 0;
        value[1] = (byte)address.Family;
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], address.Port);
        address.Address.WriteTo(value[4..]);
    }

    public void AddErrorCode(int code, string reason)
    {
        Span<byte> slot = Reserve(StunAttr.ErrorCode, 4 + Encoding.UTF8.GetByteCount(reason));
        slot[0] = 0;
        slot[1] = 0;
        slot[2] = (byte)(code / 100);
        slot[3] = (byte)(code % 100);
        Encoding.UTF8.GetBytes(reason, slot[4..]);
    }

    /// <summary>ADDRESS-ERROR-CODE (RFC 8656 §18.14): family, 13 reserved bits, class, number, reason.</summary>
    public void AddAddressErrorCode(IpFamily family, int code, string reason)
    {
        Span<byte> slot = Reserve(StunAttr.AddressErrorCode, 4 + Encoding.UTF8.GetByteCount(reason));
        slot[0] = (byte)family;
        slot[1] = 0;
        slot[2] = (byte)(code / 100);
        slot[3] = (byte)(code % 100);
        Encoding.UTF8.GetBytes(reason, slot[4..]);
    }

    public void AddUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        Span<byte> slot = Reserve(StunAttr.UnknownAttributes, types.Length * 2);
        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(slot[(i * 2)..], types[i]);
        }
    }

    /// <summary>Appends MESSAGE-INTEGRITY (HMAC-SHA1, 20 bytes) or MESSAGE-INTEGRITY-SHA256 (32 bytes).</summary>
    public void AddIntegrity(IntegrityKind kind, scoped ReadOnlySpan<byte> key)
    {
        int macLength = kind == IntegrityKind.Sha256 ? 32 : 20;
        int prefixLength = _length;
        Span<byte> slot = Reserve(kind == IntegrityKind.Sha256 ? StunAttr.MessageIntegritySha256 : StunAttr.MessageIntegrity, macLength);
        StunIntegrity.ComputeHmac(kind, key, _buffer[..prefixLength], macLength, slot);
    }

    public void AddFingerprint()
    {
        int prefixLength = _length;
        Span<byte> slot = Reserve(StunAttr.Fingerprint, 4);
        BinaryPrimitives.WriteUInt32BigEndian(slot, StunIntegrity.ComputeFingerprint(_buffer[..prefixLength]));
    }

    private Span<byte> Reserve(ushort type, int valueLength)
    {
        int padded = (valueLength + 3) & ~3;
        if (valueLength > ushort.MaxValue || _length + 4 + padded > _buffer.Length)
        {
            throw new InvalidOperationException("The STUN message does not fit its buffer.");
        }

        Span<byte> header = _buffer[_length..];
        BinaryPrimitives.WriteUInt16BigEndian(header, type);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)valueLength);
        Span<byte> value = _buffer.Slice(_length + 4, valueLength);
        _buffer.Slice(_length + 4 + valueLength, padded - valueLength).Clear();
        _length += 4 + padded;
        UpdateLength();
        return value;
    }

    private readonly void UpdateLength() =>
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - StunConstants.HeaderLength));
}
