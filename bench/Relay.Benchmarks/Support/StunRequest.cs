using System.Buffers.Binary;
using System.Text;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.Benchmarks.Support;

/// <summary>
/// A STUN message a benchmark client sends, built once in setup with <see cref="StunMessageWriter"/>. Attributes are
/// written in the order they were added; XOR addresses are encoded against the final header.
/// </summary>
internal sealed class StunRequest
{
    private readonly List<(ushort Type, byte[]? Value, TransportAddress Address)> _attributes = new();
    private readonly StunMethod _method;
    private readonly StunClass _class;
    private readonly byte[] _transactionId;

    public StunRequest(StunMethod method, StunClass cls, byte[] transactionId)
    {
        _method = method;
        _class = cls;
        _transactionId = transactionId;
    }

    public StunRequest Add(ushort type, byte[] value)
    {
        _attributes.Add((type, value, default));
        return this;
    }

    public StunRequest Add(ushort type, string value) => Add(type, Encoding.UTF8.GetBytes(value));

    public StunRequest AddUInt32(ushort type, uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Add(type, bytes);
    }

    public StunRequest AddXor(ushort type, TransportAddress address)
    {
        _attributes.Add((type, null, address));
        return this;
    }

    public StunRequest RequestedTransportUdp() => Add(StunAttr.RequestedTransport, [StunConstants.TransportUdp, 0, 0, 0]);

    public StunRequest ChannelNumber(ushort number) => Add(StunAttr.ChannelNumber, [(byte)(number >> 8), (byte)number, 0, 0]);

    public byte[] Build(byte[]? key = null, bool fingerprint = false)
    {
        var buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, _method, _class, _transactionId);
        foreach (var (type, value, address) in _attributes)
        {
            if (value is null)
            {
                writer.AddXorAddress(type, address);
            }
            else
            {
                writer.AddAttribute(type, value);
            }
        }

        if (key is not null)
        {
            writer.AddIntegrity(IntegrityKind.Sha1, key);
        }

        if (fingerprint)
        {
            writer.AddFingerprint();
        }

        return writer.Written.ToArray();
    }

    /// <summary>A transaction id unique per <paramref name="sequence"/> (a prefix keeps different rings apart).</summary>
    public static byte[] TransactionId(uint prefix, ulong sequence)
    {
        var id = new byte[StunConstants.TransactionIdLength];
        BinaryPrimitives.WriteUInt32BigEndian(id, prefix);
        BinaryPrimitives.WriteUInt64BigEndian(id.AsSpan(4), sequence);
        return id;
    }
}
