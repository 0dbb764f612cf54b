using System.Buffers.Binary;

namespace Relay.Core.Stun;

/// <summary>ChannelData framing (RFC 8656 §12.4): channel number (u16), length (u16), application data.</summary>
public static class ChannelData
{
    public const int HeaderLength = StunConstants.ChannelDataHeaderLength;

    /// <summary>True when the first byte is in the TURN channel range of RFC 7983 (64–127 covers RFC 5766's 0x7FFF).</summary>
    public static bool LooksLikeChannelData(ReadOnlySpan<byte> datagram) =>
        datagram.Length > 0 && datagram[0] is >= 0x40 and <= 0x7F;

    /// <summary>
    /// Reads the header. The datagram may be longer than 4 + length (padding to a multiple of four is allowed,
    /// and pjnath sends it even over UDP) but not shorter (RFC 8656 §12.6: silently discarded).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out ushort channel, out int length)
    {
        channel = 0;
        length = 0;
        if (datagram.Length < HeaderLength)
        {
            return false;
        }

        channel = BinaryPrimitives.ReadUInt16BigEndian(datagram);
        length = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        return length <= datagram.Length - HeaderLength;
    }

    public static void WriteHeader(Span<byte> destination, ushort channel, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, channel);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)length);
    }
}
