using System.Buffers.Binary;
using System.Text;
using Relay.Core.Net;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Stun;

public class CodecTests
{
    [Theory]
    [InlineData(StunMethod.Binding, StunClass.Request, 0x0001)]
    [InlineData(StunMethod.Binding, StunClass.SuccessResponse, 0x0101)]
    [InlineData(StunMethod.Binding, StunClass.ErrorResponse, 0x0111)]
    [InlineData(StunMethod.Binding, StunClass.Indication, 0x0011)]
    [InlineData(StunMethod.Allocate, StunClass.Request, 0x0003)]
    [InlineData(StunMethod.Allocate, StunClass.ErrorResponse, 0x0113)]
    [InlineData(StunMethod.Send, StunClass.Indication, 0x0016)]
    [InlineData(StunMethod.Data, StunClass.Indication, 0x0017)]
    [InlineData(StunMethod.ChannelBind, StunClass.SuccessResponse, 0x0109)]
    [InlineData(StunMethod.CreatePermission, StunClass.Request, 0x0008)]
    public void Message_type_packs_and_unpacks_method_and_class(StunMethod method, StunClass cls, int type)
    {
        Assert.Equal((ushort)type, StunMessageType.Encode(method, cls));
        Assert.Equal((ushort)method, StunMessageType.Method((ushort)type));
        Assert.Equal(cls, StunMessageType.Class((ushort)type));
    }

    [Fact]
    public void Crc32_has_the_standard_check_value() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Theory]
    [InlineData("")]
    [InlineData("0001000021")] // shorter than a header
    [InlineData("c0010000" + "2112a442" + "000000000000000000000000")] // top bits set
    [InlineData("00010000" + "2112a443" + "000000000000000000000000")] // wrong cookie
    [InlineData("00010002" + "2112a442" + "000000000000000000000000" + "0000")] // length not a multiple of 4
    [InlineData("00010004" + "2112a442" + "000000000000000000000000")] // length beyond the datagram
    [InlineData("00010000" + "2112a442" + "000000000000000000000000" + "00000000")] // datagram beyond the length
    public void Not_stun_is_recognised(string hex) =>
        Assert.Equal(StunParseResult.NotStun, StunMessage.TryParse(Convert.FromHexString(hex), out _));

    [Theory]
    [InlineData("00010008" + "2112a442" + "000000000000000000000000" + "00060008" + "61626364")] // value overruns
    [InlineData("00010010" + "2112a442" + "000000000000000000000000" + "80280004" + "00000000" + "00060004" + "61626364")] // after FINGERPRINT
    [InlineData("00010008" + "2112a442" + "000000000000000000000000" + "80280002" + "00000000")] // FINGERPRINT of 2 bytes
    [InlineData("00010010" + "2112a442" + "000000000000000000000000" + "0008000c" + "000000000000000000000000")] // short MI
    public void Malformed_attributes_are_recognised(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex.Length % 8 == 4 ? hex + "0000" : hex);
        if (bytes.Length % 4 != 0 || BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2)) != bytes.Length - 20)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)(bytes.Length - 20));
        }

        Assert.Equal(StunParseResult.Malformed, StunMessage.TryParse(bytes, out _));
    }

    [Fact]
    public void Attributes_after_message_integrity_are_invisible_except_fingerprint()
    {
        var spec = new MessageSpec(StunMethod.CreatePermission).Add(StunAttr.Username, "alice");
        byte[] key = [1, 2, 3];
        byte[] signed = spec.Build(key);

        // Smuggle an XOR-PEER-ADDRESS after MESSAGE-INTEGRITY, then add a valid FINGERPRINT.
        var buffer = new byte[512];
        signed.CopyTo(buffer, 0);
        int length = signed.Length;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(length), StunAttr.XorPeerAddress);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(length + 2), 8);
        XorAddress.Encode(TransportAddress.Parse("10.0.0.1:80"), buffer.AsSpan(0, 20), buffer.AsSpan(length + 4));
        length += 12;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)(length - 20));
        byte[] bytes = buffer.AsSpan(0, length).ToArray();

        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.False(message.HasAttribute(StunAttr.XorPeerAddress));
        Assert.True(message.HasAttribute(StunAttr.Username));
        Assert.True(StunIntegrity.Verify(message, key, out _)); // the smuggled bytes are outside the MAC
    }

    [Fact]
    public void Non_zero_padding_is_accepted_and_hashed_as_received()
    {
        byte[] key = Encoding.UTF8.GetBytes("pw");
        var spec = new MessageSpec(StunMethod.Binding).Add(StunAttr.Username, "abcde"); // 3 bytes of padding
        byte[] bytes = spec.Build();
        bytes[20 + 4 + 5] = 0xAA;
        bytes[20 + 4 + 6] = 0xBB;

        // Sign over the message as it now is (garbage padding included).
        var buffer = new byte[256];
        bytes.CopyTo(buffer, 0);
        var mac = new byte[20];
        StunIntegrity.ComputeHmac(IntegrityKind.Sha1, key, bytes, 20, mac);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(bytes.Length), StunAttr.MessageIntegrity);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(bytes.Length + 2), 20);
        mac.CopyTo(buffer, bytes.Length + 4);
        int total = bytes.Length + 24;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)(total - 20));

        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(buffer.AsSpan(0, total), out var message));
        Assert.True(message.TryGetAttribute(StunAttr.Username, out var username));
        Assert.Equal("abcde", Encoding.UTF8.GetString(username));
        Assert.True(StunIntegrity.Verify(message, key, out _));
    }

    [Fact]
    public void Writer_round_trips_with_integrity_sha256_and_fingerprint()
    {
        byte[] key = new byte[16];
        var spec = new MessageSpec(StunMethod.Refresh).Lifetime(600).Add(StunAttr.Username, "u");
        byte[] bytes = spec.Build(key, IntegrityKind.Sha256, fingerprint: true);
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.True(message.HasFingerprint);
        Assert.True(StunIntegrity.Verify(message, key, out var kind));
        Assert.Equal(IntegrityKind.Sha256, kind);
        bytes[^1] ^= 1;
        Assert.Equal(StunParseResult.BadFingerprint, StunMessage.TryParse(bytes, out _));
    }

    [Theory]
    [InlineData("192.0.2.1:32853")]
    [InlineData("[2001:db8::1]:3478")]
    [InlineData("0.0.0.0:1")]
    [InlineData("[::ffff:1.2.3.4]:65535")]
    public void Xor_addresses_round_trip(string text)
    {
        var address = TransportAddress.Parse(text);
        byte[] header = new MessageSpec(StunMethod.Binding).Build();
        var value = new byte[XorAddress.EncodedLength(address.Family)];
        XorAddress.Encode(address, header, value);
        Assert.True(XorAddress.TryDecode(value, header, out var decoded));
        Assert.Equal(address, decoded);
    }

    [Theory]
    [InlineData("0001")]
    [InlineData("0003000100000000")] // family 3
    [InlineData("000100010000")] // IPv4 family, 6 bytes
    public void Bad_xor_address_values_are_refused(string hex) =>
        Assert.False(XorAddress.TryDecode(Convert.FromHexString(hex), new byte[20], out _));

    [Fact]
    public void Channel_data_accepts_padding_and_refuses_short_datagrams()
    {
        Assert.True(ChannelData.TryParse(Convert.FromHexString("40000003616263" + "00"), out ushort channel, out int length));
        Assert.Equal(0x4000, channel);
        Assert.Equal(3, length);
        Assert.True(ChannelData.TryParse(Convert.FromHexString("40010000"), out _, out length));
        Assert.Equal(0, length);
        Assert.False(ChannelData.TryParse(Convert.FromHexString("4000000461626364").AsSpan(0, 7), out _, out _));
        Assert.False(ChannelData.TryParse(Convert.FromHexString("4000"), out _, out _));
    }

    [Fact]
    public void Error_code_and_address_error_code_encode_class_and_number()
    {
        var spec = new MessageSpec(StunMethod.Allocate, StunClass.ErrorResponse);
        var buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.ErrorResponse, spec.TransactionId);
        writer.AddErrorCode(438, "Stale Nonce");
        writer.AddAddressErrorCode(IpFamily.V6, 440, "x");
        var parsed = Msg.Parse(writer.Written.ToArray());
        Assert.Equal(438, parsed.ErrorCode);
        Assert.Equal(new byte[] { 2, 0, 4, 40, (byte)'x' }, parsed.Get(StunAttr.AddressErrorCode));
    }
}
