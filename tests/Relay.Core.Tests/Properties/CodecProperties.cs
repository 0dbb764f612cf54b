using System.Buffers.Binary;
using CsCheck;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.Core.Tests.Properties;

/// <summary>Round trips of the codec over generated inputs.</summary>
public class CodecProperties
{
    private static readonly Gen<IpAddr> GenIp = Gen.OneOf(
        Gen.UInt.Select(IpAddr.FromV4),
        Gen.Select(Gen.ULong, Gen.ULong, IpAddr.FromV6));

    private static readonly Gen<TransportAddress> GenAddress = Gen.Select(GenIp, Gen.UShort, (ip, port) => new TransportAddress(ip, port));

    private static readonly Gen<(ushort Type, byte[] Value)> GenAttribute = Gen.Select(
        Gen.UShort.Where(t => t is not (StunAttr.MessageIntegrity or StunAttr.MessageIntegritySha256 or StunAttr.Fingerprint)),
        Gen.Byte.Array[0, 64]);

    [Fact]
    public void Written_messages_parse_back_to_the_same_attributes_and_verify()
    {
        Gen.Select(GenAttribute.Array[0, 12], Gen.Byte.Array[12], Gen.Byte.Array[1, 32], Gen.Bool, Gen.Bool)
            .Sample((attributes, transactionId, key, sha256, fingerprint) =>
            {
                var buffer = new byte[4096];
                var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.Request, transactionId);
                foreach (var (type, value) in attributes)
                {
                    writer.AddAttribute(type, value);
                }

                var kind = sha256 ? IntegrityKind.Sha256 : IntegrityKind.Sha1;
                writer.AddIntegrity(kind, key);
                if (fingerprint)
                {
                    writer.AddFingerprint();
                }

                byte[] bytes = writer.Written.ToArray();
                Assert.Equal(StunParseResult.Ok, StunMessage.TryParse(bytes, out var message));
                Assert.Equal(transactionId, message.TransactionId.ToArray());
                Assert.Equal(fingerprint, message.HasFingerprint);
                int i = 0;
                foreach (var attribute in message.Attributes)
                {
                    Assert.Equal(attributes[i].Type, attribute.Type);
                    Assert.Equal(attributes[i].Value, attribute.Value.ToArray());
                    i++;
                }

                Assert.Equal(attributes.Length, i);
                Assert.True(StunIntegrity.Verify(message, key, out var verifiedKind));
                Assert.Equal(kind, verifiedKind);
            });
    }

    [Fact]
    public void Xor_addresses_round_trip_for_any_address_and_transaction()
    {
        Gen.Select(GenAddress, Gen.Byte.Array[12]).Sample((address, transactionId) =>
        {
            var header = new byte[20];
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), StunConstants.MagicCookie);
            transactionId.CopyTo(header, 8);
            var value = new byte[XorAddress.EncodedLength(address.Family)];
            XorAddress.Encode(address, header, value);
            Assert.True(XorAddress.TryDecode(value, header, out var decoded));
            Assert.Equal(address, decoded);
        });
    }

    [Fact]
    public void Crc32_slicing_matches_the_bytewise_definition()
    {
        Gen.Byte.Array[0, 300].Sample(data =>
        {
            uint crc = 0xFFFF_FFFF;
            foreach (byte b in data)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? 0xEDB8_8320u ^ (crc >> 1) : crc >> 1;
                }
            }

            Assert.Equal(~crc, Crc32.Compute(data));
        });
    }

    [Fact]
    public void Channel_data_headers_round_trip()
    {
        Gen.Select(Gen.UShort[0x4000, 0x7FFF], Gen.Byte.Array[0, 300], Gen.Int[0, 3]).Sample((channel, payload, padding) =>
        {
            var datagram = new byte[4 + payload.Length + padding];
            ChannelData.WriteHeader(datagram, channel, payload.Length);
            payload.CopyTo(datagram, 4);
            Assert.True(ChannelData.TryParse(datagram, out ushort parsedChannel, out int length));
            Assert.Equal(channel, parsedChannel);
            Assert.Equal(payload.Length, length);
        });
    }

    [Fact]
    public void Ip_addresses_survive_the_trip_through_system_net()
    {
        GenIp.Sample(ip =>
        {
            Assert.Equal(ip, IpAddr.FromIPAddress(ip.ToIPAddress()));
            Assert.Equal(ip, IpAddr.Parse(ip.ToString()));
        });
    }

    [Fact]
    public void The_parser_never_throws_on_arbitrary_bytes()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            if (bytes.Length >= 8)
            {
                BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), StunConstants.MagicCookie); // get past the cookie check
            }

            if (bytes.Length >= 4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)Math.Max(0, bytes.Length - 20));
                bytes[0] &= 0x3F;
            }

            if (StunMessage.TryParse(bytes, out var message) == StunParseResult.Ok)
            {
                foreach (var attribute in message.Attributes)
                {
                    _ = attribute.Value.Length;
                }

                _ = StunIntegrity.Verify(message, [1], out _);
            }
        });
    }
}
