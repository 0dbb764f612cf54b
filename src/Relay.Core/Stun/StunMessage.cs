using System.Buffers.Binary;

namespace Relay.Core.Stun;

/// <summary>Outcome of <see cref="StunMessage.TryParse"/>.</summary>
public enum StunParseResult
{
    /// <summary>A well-formed STUN message.</summary>
    Ok,

    /// <summary>The bytes are not a STUN message (bad header, cookie or length): drop silently.</summary>
    NotStun,

    /// <summary>The header is valid STUN but an attribute overruns the message or FINGERPRINT is not last.</summary>
    Malformed,

    /// <summary>A FINGERPRINT attribute is present and wrong: per RFC 8489 §7.3 this is not a STUN message.</summary>
    BadFingerprint,
}

/// <summary>
/// A parsed view over a STUN message (RFC 8489 §5, §14). Nothing is copied: attribute values are slices of the
/// original datagram. Attributes that follow MESSAGE-INTEGRITY, other than MESSAGE-INTEGRITY-SHA256 and
/// FINGERPRINT, are invisible to lookups, as RFC 8489 §14.5 requires (coturn once installed an extra permission
/// from an XOR-PEER-ADDRESS smuggled after the integrity check).
/// </summary>
public readonly ref struct StunMessage
{
    private readonly int _attributesEnd;

    private StunMessage(ReadOnlySpan<byte> raw, int attributesEnd, int integrity, int integritySha256, int fingerprint)
    {
        Raw = raw;
        _attributesEnd = attributesEnd;
        IntegrityOffset = integrity;
        IntegritySha256Offset = integritySha256;
        FingerprintOffset = fingerprint;
    }

    /// <summary>The whole message, header included.</summary>
    public ReadOnlySpan<byte> Raw { get; }

    public ushort MessageType => BinaryPrimitives.ReadUInt16BigEndian(Raw);

    public ushort Method => StunMessageType.Method(MessageType);

    public StunClass Class => StunMessageType.Class(MessageType);

    /// <summary>The 12-byte transaction id.</summary>
    public ReadOnlySpan<byte> TransactionId => Raw.Slice(8, StunConstants.TransactionIdLength);

    /// <summary>Offset of the MESSAGE-INTEGRITY attribute header, or -1.</summary>
    public int IntegrityOffset { get; }

    /// <summary>Offset of the MESSAGE-INTEGRITY-SHA256 attribute header, or -1.</summary>
    public int IntegritySha256Offset { get; }

    /// <summary>Offset of the FINGERPRINT attribute header, or -1.</summary>
    public int FingerprintOffset { get; }

    public bool HasIntegrity => IntegrityOffset >= 0 || IntegritySha256Offset >= 0;

    public bool HasFingerprint => FingerprintOffset >= 0;

    /// <summary>True when the first byte says "STUN" (RFC 7983 demultiplexing: 0–3).</summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> datagram) => datagram.Length > 0 && datagram[0] < 4;

    public static StunParseResult TryParse(ReadOnlySpan<byte> datagram, out StunMessage message)
    {
        message = default;
        if (datagram.Length < StunConstants.HeaderLength || (datagram[0] & 0xC0) != 0)
        {
            return StunParseResult.NotStun;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) != StunConstants.MagicCookie
            || (length & 3) != 0
            || datagram.Length != StunConstants.HeaderLength + length)
        {
            return StunParseResult.NotStun;
        }

        int integrity = -1, integritySha256 = -1, fingerprint = -1;
        int attributesEnd = datagram.Length;
        int offset = StunConstants.HeaderLength;
        while (offset < datagram.Length)
        {
            if (fingerprint >= 0 || datagram.Length - offset < 4)
            {
                return StunParseResult.Malformed; // nothing may follow FINGERPRINT; no room for a header
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(datagram[offset..]);
            int valueLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[(offset + 2)..]);
            int padded = (valueLength + 3) & ~3;
            if (padded > datagram.Length - offset - 4)
            {
                return StunParseResult.Malformed;
            }

            switch (type)
            {
                case StunAttr.MessageIntegrity when integrity < 0 && integritySha256 < 0:
                    if (valueLength != 20)
                    {
                        return StunParseResult.Malformed;
                    }

                    integrity = offset;
                    attributesEnd = offset;
                    break;
                case StunAttr.MessageIntegritySha256 when integritySha256 < 0:
                    if (valueLength is < 16 or > 32 || (valueLength & 3) != 0)
                    {
                        return StunParseResult.Malformed;
                    }

                    integritySha256 = offset;
                    attributesEnd = Math.Min(attributesEnd, offset);
                    break;
                case StunAttr.Fingerprint:
                    if (valueLength != 4)
                    {
                        return StunParseResult.Malformed;
                    }

                    fingerprint = offset;
                    attributesEnd = Math.Min(attributesEnd, offset);
                    break;
            }

            offset += 4 + padded;
        }

        if (fingerprint >= 0 && !FingerprintMatches(datagram, fingerprint))
        {
            return StunParseResult.BadFingerprint;
        }

        message = new StunMessage(datagram, attributesEnd, integrity, integritySha256, fingerprint);
        return StunParseResult.Ok;
    }

    private static bool FingerprintMatches(ReadOnlySpan<byte> message, int fingerprintOffset)
    {
        uint expected = BinaryPrimitives.ReadUInt32BigEndian(message[(fingerprintOffset + 4)..]);
        return StunIntegrity.ComputeFingerprint(message[..fingerprintOffset]) == expected;
    }

    /// <summary>Finds the first attribute of <paramref name="type"/> among those covered by the integrity check.</summary>
    public bool TryGetAttribute(ushort type, out ReadOnlySpan<byte> value)
    {
        foreach (var attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                value = attribute.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    public bool HasAttribute(ushort type) => TryGetAttribute(type, out _);

    /// <summary>Attributes in order, up to (not including) MESSAGE-INTEGRITY, MI-SHA256 and FINGERPRINT.</summary>
    public AttributeEnumerator Attributes => new(Raw[.._attributesEnd]);

    /// <summary>The attribute value at an attribute header offset (for MI, MI-SHA256 and FINGERPRINT).</summary>
    public ReadOnlySpan<byte> ValueAt(int attributeOffset) =>
        Raw.Slice(attributeOffset + 4, BinaryPrimitives.ReadUInt16BigEndian(Raw[(attributeOffset + 2)..]));

    public ref struct AttributeEnumerator
    {
        private readonly ReadOnlySpan<byte> _message;
        private int _next;

        internal AttributeEnumerator(ReadOnlySpan<byte> message)
        {
            _message = message;
            _next = StunConstants.HeaderLength;
            Current = default;
        }

        public StunAttribute Current { get; private set; }

        public readonly AttributeEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_next + 4 > _message.Length)
            {
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[_next..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(_message[(_next + 2)..]);
            Current = new StunAttribute(type, _message.Slice(_next + 4, length), _next);
            _next += 4 + ((length + 3) & ~3);
            return true;
        }
    }
}

/// <summary>One attribute: its type, its value (without padding) and the offset of its header.</summary>
public readonly ref struct StunAttribute
{
    public StunAttribute(ushort type, ReadOnlySpan<byte> value, int offset)
    {
        Type = type;
        Value = value;
        Offset = offset;
    }

    public ushort Type { get; }

    public ReadOnlySpan<byte> Value { get; }

    public int Offset { get; }
}
