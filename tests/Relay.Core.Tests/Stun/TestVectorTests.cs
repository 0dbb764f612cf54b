using System.Security.Cryptography;
using System.Text;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.Core.Tests.Stun;

/// <summary>RFC 5769 §2.1–2.4 and RFC 8489 Appendix B.1 (errata 6268), byte for byte.</summary>
public class TestVectorTests
{
    internal const string SampleRequest =
        "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573" +
        "7420636c69656e74002400046e0001ff80290008932ff9b151263b3600060009" +
        "6576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249" +
        "c1b571a280280004e57a3bcf";

    internal const string SampleIPv4Response =
        "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563" +
        "746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f9" +
        "2af9ba53f06be7d780280004c07d4c96";

    internal const string SampleIPv6Response =
        "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563" +
        "746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014" +
        "a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c";

    internal const string LongTermRequest =
        "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383" +
        "aae38383e382afe382b900000015001c662f2f3439396b39353464364f4c3334" +
        "6f4c394653547679363473410014000b6578616d706c652e6f72670000080014" +
        "f67024656dd64a3e02b8e0712e85c9a28ca89666";

    internal const string Rfc8489B1 =
        "000100902112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bd" +
        "a952c6780417da0f24819415569e60b205c46e41407f1704001500296f624d61" +
        "744a6f733241414143662f2f3439396b39353464364f4c33346f4c3946535476" +
        "79363473410000000014000b6578616d706c652e6f726700001d000400020000" +
        "001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278c" +
        "c6518e65";

    private static readonly byte[] ShortTermKey = Encoding.UTF8.GetBytes("VOkJxbRl1RmTxUk/WvJxBt");
    private const string MatrixUser = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9";
    private const string MatrixPassword = "The\u00ADM\u00AAtr\u2168";

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void Rfc5769_sample_request_parses_with_its_attributes_and_space_padding()
    {
        byte[] bytes = Hex(SampleRequest);
        Assert.Equal(108, bytes.Length);
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.Equal((ushort)StunMethod.Binding, message.Method);
        Assert.Equal(StunClass.Request, message.Class);
        Assert.Equal("b7e7a701bc34d686fa87dfae", Convert.ToHexStringLower(message.TransactionId));
        Assert.Equal(76, message.IntegrityOffset);
        Assert.Equal(100, message.FingerprintOffset);

        var types = new List<(ushort, int)>();
        foreach (var attribute in message.Attributes)
        {
            types.Add((attribute.Type, attribute.Offset));
        }

        Assert.Equal([(StunAttr.Software, 20), (StunAttr.Priority, 40), (StunAttr.IceControlled, 48), (StunAttr.Username, 60)], types);
        Assert.True(message.TryGetAttribute(StunAttr.Username, out var username));
        Assert.Equal("evtj:h6vY", Encoding.UTF8.GetString(username)); // padding (three 0x20) is not part of the value
        Assert.True(message.TryGetAttribute(StunAttr.Software, out var software));
        Assert.Equal("STUN test client", Encoding.UTF8.GetString(software));
    }

    [Fact]
    public void Rfc5769_sample_request_integrity_verifies_with_the_short_term_password_and_fails_with_another()
    {
        byte[] bytes = Hex(SampleRequest);
        StunMessage.TryParse(bytes, out var message);
        Assert.True(StunIntegrity.Verify(message, ShortTermKey, out var kind));
        Assert.Equal(IntegrityKind.Sha1, kind);
        Assert.False(StunIntegrity.Verify(message, Encoding.UTF8.GetBytes("VOkJxbRl1RmTxUk/WvJxBu"), out _));
    }

    [Fact]
    public void Rfc5769_fingerprint_fails_when_a_byte_is_flipped()
    {
        byte[] bytes = Hex(SampleRequest);
        bytes[27] ^= 0x01; // inside the transaction id... of SOFTWARE, as coturn's negative case
        Assert.Equal(StunParseResult.BadFingerprint, StunMessage.TryParse(bytes, out _));
    }

    [Theory]
    [InlineData(SampleIPv4Response, "192.0.2.1:32853")]
    [InlineData(SampleIPv6Response, "[2001:db8:1234:5678:11:2233:4455:6677]:32853")]
    public void Rfc5769_sample_responses_decode_xor_mapped_address_and_verify(string hex, string mapped)
    {
        byte[] bytes = Hex(hex);
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.Equal(StunClass.SuccessResponse, message.Class);
        Assert.True(message.TryGetAttribute(StunAttr.XorMappedAddress, out var value));
        Assert.True(XorAddress.TryDecode(value, bytes.AsSpan(0, 20), out var address));
        Assert.Equal(TransportAddress.Parse(mapped), address);
        Assert.True(StunIntegrity.Verify(message, ShortTermKey, out _));
        Assert.True(message.TryGetAttribute(StunAttr.Software, out var software));
        Assert.Equal("test vector", Encoding.UTF8.GetString(software));
    }

    [Fact]
    public void Rfc5769_long_term_key_uses_saslprep_and_md5()
    {
        byte[] key = StunIntegrity.LongTermKey(MatrixUser, "example.org", MatrixPassword);
        Assert.Equal("e8ca7ad59d5eb0518e312911d2dab2a9", Convert.ToHexStringLower(key));
    }

    [Fact]
    public void Rfc5769_long_term_request_verifies()
    {
        byte[] bytes = Hex(LongTermRequest);
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.False(message.HasFingerprint);
        Assert.True(message.TryGetAttribute(StunAttr.Username, out var username));
        Assert.Equal(MatrixUser, Encoding.UTF8.GetString(username));
        Assert.True(message.TryGetAttribute(StunAttr.Nonce, out var nonce));
        Assert.Equal("f//499k954d6OL34oL9FSTvy64sA", Encoding.ASCII.GetString(nonce));
        Assert.True(message.TryGetAttribute(StunAttr.Realm, out var realm));
        Assert.Equal("example.org", Encoding.ASCII.GetString(realm));
        Assert.True(StunIntegrity.Verify(message, StunIntegrity.LongTermKey(MatrixUser, "example.org", MatrixPassword), out _));
        Assert.False(StunIntegrity.Verify(message, StunIntegrity.LongTermKey(MatrixUser, "example.org", "TheMatrix"), out _));
    }

    [Fact]
    public void Rfc8489_B1_verifies_with_message_integrity_sha256_and_a_sha256_key_only()
    {
        byte[] bytes = Hex(Rfc8489B1);
        Assert.Equal(164, bytes.Length);
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
        Assert.Equal(128, message.IntegritySha256Offset);
        Assert.Equal(-1, message.IntegrityOffset);

        byte[] sha256Key = StunIntegrity.LongTermKey(MatrixUser, "example.org", MatrixPassword, PasswordAlgorithm.Sha256);
        Assert.Equal("dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1", Convert.ToHexStringLower(sha256Key));
        Assert.True(StunIntegrity.Verify(message, sha256Key, out var kind));
        Assert.Equal(IntegrityKind.Sha256, kind);
        Assert.False(StunIntegrity.Verify(message, StunIntegrity.LongTermKey(MatrixUser, "example.org", MatrixPassword), out _));

        Assert.True(message.TryGetAttribute(StunAttr.UserHash, out var userHash));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(MatrixUser + ":example.org")), userHash.ToArray());
        Assert.True(message.TryGetAttribute(StunAttr.PasswordAlgorithm, out var algorithm));
        Assert.Equal(new byte[] { 0, 2, 0, 0 }, algorithm.ToArray());
        Assert.True(message.TryGetAttribute(StunAttr.Nonce, out var nonce));
        Assert.Equal("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", Encoding.ASCII.GetString(nonce));
    }

    [Fact]
    public void Writer_lays_out_the_rfc5769_ipv4_response_and_hashes_it_like_the_vector()
    {
        byte[] expected = Hex(SampleIPv4Response);
        var buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, expected.AsSpan(8, 12));
        writer.AddAttribute(StunAttr.Software, "test vector"u8);
        writer.AddXorAddress(StunAttr.XorMappedAddress, TransportAddress.Parse("192.0.2.1:32853"));
        writer.AddIntegrity(IntegrityKind.Sha1, ShortTermKey);
        writer.AddFingerprint();
        byte[] written = writer.Written.ToArray();

        // Same layout; the vector pads SOFTWARE with a space where the writer writes a zero.
        Assert.Equal(expected.Length, written.Length);
        Assert.Equal(0, written[35]);
        written[35] = 0x20;
        Assert.Equal(expected.AsSpan(0, 52).ToArray(), written.AsSpan(0, 52).ToArray());

        // Over the vector's own prefix, the writer's MAC and CRC arithmetic gives the vector's values.
        var mac = new byte[20];
        StunIntegrity.ComputeHmac(IntegrityKind.Sha1, ShortTermKey, expected.AsSpan(0, 48), 20, mac);
        Assert.Equal(expected.AsSpan(52, 20).ToArray(), mac);
        Assert.Equal(0xc07d4c96u, StunIntegrity.ComputeFingerprint(expected.AsSpan(0, 72)));

        // And the writer's own message is valid end to end.
        Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(writer.Written, out var parsed));
        Assert.True(StunIntegrity.Verify(parsed, ShortTermKey, out _));
    }
}
