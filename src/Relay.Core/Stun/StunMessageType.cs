namespace Relay.Core.Stun;

/// <summary>Packs and unpacks the 14-bit STUN message type (method bits interleaved with the two class bits).</summary>
public static class StunMessageType
{
    public static ushort Encode(StunMethod method, StunClass cls) => Encode((ushort)method, cls);

    public static ushort Encode(ushort method, StunClass cls)
    {
        int m = method & 0xFFF;
        int c = (int)cls;
        return (ushort)((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
    }

    public static ushort Method(ushort type) => (ushort)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));

    public static StunClass Class(ushort type) => (StunClass)(((type >> 4) & 1) | ((type >> 7) & 2));
}
