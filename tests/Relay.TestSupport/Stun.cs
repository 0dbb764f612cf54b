using Xunit;
using System.Buffers.Binary;
using System.Text;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.TestSupport;

/// <summary>A STUN message under construction in a test: attributes as plain byte arrays.</summary>
public sealed class MessageSpec
{
    public MessageSpec(StunMethod method, StunClass cls = StunClass.Request, byte[]? transactionId = null)
    {
        Method = method;
        Class = cls;
        TransactionId = transactionId ?? Msg.NewTransactionId();
    }

    public StunMethod Method { get; }

    public StunClass Class { get; }

    public byte[] TransactionId { get; }

    public List<(ushort Type, byte[] Value)> Attributes { get; } = new();

    /// <summary>Addresses to XOR-encode once the header (and so the transaction id) is known.</summary>
    public List<(ushort Type, TransportAddress Address)> XorAddresses { get; } = new();

    public MessageSpec Add(ushort type, byte[] value)
    {
        Attributes.Add((type, value));
        return this;
    }

    public MessageSpec Add(ushort type, string value) => Add(type, Encoding.UTF8.GetBytes(value));

    public MessageSpec AddUInt32(ushort type, uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Add(type, bytes);
    }

    public MessageSpec AddXor(ushort type, TransportAddress address)
    {
        XorAddresses.Add((type, address));
        return this;
    }

    public MessageSpec RequestedTransport(byte protocol = 17) => Add(StunAttr.RequestedTransport, [protocol, 0, 0, 0]);

    public MessageSpec Family(ushort type, IpFamily family) => Add(type, [(byte)family, 0, 0, 0]);

    public MessageSpec Lifetime(uint seconds) => AddUInt32(StunAttr.Lifetime, seconds);

    public MessageSpec ChannelNumber(ushort number) => Add(StunAttr.ChannelNumber, [(byte)(number >> 8), (byte)number, 0, 0]);

    public MessageSpec Peer(string address) => AddXor(StunAttr.XorPeerAddress, TransportAddress.Parse(address));

    public byte[] Build(byte[]? key = null, IntegrityKind kind = IntegrityKind.Sha1, bool fingerprint = false)
    {
        int attributeBytes = 0;
        foreach (var (_, value) in Attributes)
        {
            attributeBytes += 4 + value.Length + 3;
        }

        var buffer = new byte[8192 + attributeBytes];
        var writer = new StunMessageWriter(buffer, Method, Class, TransactionId);
        foreach (var (type, value) in Attributes)
        {
            writer.AddAttribute(type, value);
        }

        foreach (var (type, address) in XorAddresses)
        {
            writer.AddXorAddress(type, address);
        }

        if (key is not null)
        {
            writer.AddIntegrity(kind, key);
        }

        if (fingerprint)
        {
            writer.AddFingerprint();
        }

        return writer.Written.ToArray();
    }
}

public static class Msg
{
    private static readonly Random TransactionIds = new(1234);

    public static byte[] NewTransactionId()
    {
        var id = new byte[12];
        lock (TransactionIds)
        {
            TransactionIds.NextBytes(id);
        }

        return id;
    }

    public static ParsedMessage Parse(byte[] bytes)
    {
        var result = StunMessage.TryParse(bytes, out var message);
        Assert.Equal(StunParseResult.Ok, result);
        return new ParsedMessage(bytes, message);
    }
}

/// <summary>A parsed STUN message copied out of its span, for assertions.</summary>
public sealed class ParsedMessage
{
    public ParsedMessage(byte[] raw, StunMessage message)
    {
        Raw = raw;
        Method = (StunMethod)message.Method;
        Class = message.Class;
        TransactionId = message.TransactionId.ToArray();
        HasIntegrity = message.IntegrityOffset >= 0;
        HasIntegritySha256 = message.IntegritySha256Offset >= 0;
        HasFingerprint = message.HasFingerprint;
        foreach (var attribute in message.Attributes)
        {
            Attributes.Add((attribute.Type, attribute.Value.ToArray()));
        }
    }

    public byte[] Raw { get; }

    public StunMethod Method { get; }

    public StunClass Class { get; }

    public byte[] TransactionId { get; }

    public bool HasIntegrity { get; }

    public bool HasIntegritySha256 { get; }

    public bool HasFingerprint { get; }

    public List<(ushort Type, byte[] Value)> Attributes { get; } = new();

    public bool IsSuccess => Class == StunClass.SuccessResponse;

    public byte[]? Get(ushort type) => Attributes.FirstOrDefault(a => a.Type == type).Value;

    public IEnumerable<byte[]> GetAll(ushort type) => Attributes.Where(a => a.Type == type).Select(a => a.Value);

    public bool Has(ushort type) => Attributes.Any(a => a.Type == type);

    public int ErrorCode
    {
        get
        {
            byte[]? value = Get(StunAttr.ErrorCode);
            return value is null ? 0 : (value[2] & 7) * 100 + value[3];
        }
    }

    public string? GetString(ushort type) => Get(type) is { } value ? Encoding.UTF8.GetString(value) : null;

    public uint? GetUInt32(ushort type) => Get(type) is { } value ? BinaryPrimitives.ReadUInt32BigEndian(value) : null;

    public TransportAddress? GetXorAddress(ushort type) => GetXorAddresses(type).Cast<TransportAddress?>().FirstOrDefault();

    public IEnumerable<TransportAddress> GetXorAddresses(ushort type)
    {
        foreach (var value in GetAll(type))
        {
            Assert.True(XorAddress.TryDecode(value, Raw.AsSpan(0, 20), out var address));
            yield return address;
        }
    }

    public bool VerifyIntegrity(byte[] key)
    {
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(Raw, out var message));
        return StunIntegrity.Verify(message, key, out _);
    }

    public override string ToString() => $"{Method} {Class} {ErrorCode} [{string.Join(", ", Attributes.Select(a => $"0x{a.Type:X4}"))}]";
}

/// <summary>Ready-made messages.</summary>
public static class MessageSpecFactory
{
    public static byte[] Binding() => new MessageSpec(Relay.Core.Stun.StunMethod.Binding).Build();
}
