using CsCheck;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;
using Xunit.Abstractions;

namespace Relay.Core.Tests.Proofs;

/// <summary>
/// The hardening proofs that run in CI: a million generated datagrams through the engine without an exception or
/// a broken invariant, and a million spoofed-source Allocates that leave managed memory where it was.
/// bench/README.md records the figures these print.
/// </summary>
public class FloodProofs(ITestOutputHelper output)
{
    private const int Rounds = 1000;
    private const int DatagramsPerRound = 1000;

    /// <summary>RFC 5769 and RFC 8489 vectors and one valid message of each kind a client sends: what gets mutated.</summary>
    private static List<byte[]> Corpus(TestClient client)
    {
        client.Challenge();
        return
        [
            Convert.FromHexString(TestVectorTests.SampleRequest),
            Convert.FromHexString(TestVectorTests.SampleIPv4Response),
            Convert.FromHexString(TestVectorTests.SampleIPv6Response),
            Convert.FromHexString(TestVectorTests.LongTermRequest),
            Convert.FromHexString(TestVectorTests.Rfc8489B1),
            client.Sign(TestClient.AllocateSpec().Lifetime(700).Family(StunAttr.AdditionalAddressFamily, IpFamily.V6)),
            client.Sign(new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4001).Peer("192.0.2.1:5000")),
            client.Sign(new MessageSpec(StunMethod.CreatePermission).Peer("192.0.2.2:1").Peer("[2001:db8::9]:1")),
            client.Sign(new MessageSpec(StunMethod.Refresh).Lifetime(600), IntegrityKind.Sha256, fingerprint: true),
            new MessageSpec(StunMethod.Send, StunClass.Indication).Peer("192.0.2.2:9").Add(StunAttr.Data, new byte[17]).Build(),
            new MessageSpec(StunMethod.Binding).Build(fingerprint: true),
            [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5],
        ];
    }

    [Fact]
    public void A_million_random_and_mutated_datagrams_never_throw_or_break_an_invariant()
    {
        // A datagram: random bytes, or a corpus message with a byte flipped, cut short or extended.
        var datagram = Gen.OneOf(
            Gen.Byte.Array[0, 200].Select(bytes => (Corpus: -1, Bytes: bytes, At: 0, Value: (byte)0, Kind: 0)),
            Gen.Select(Gen.Int[0, 11], Gen.Int[0, 400], Gen.Byte, Gen.Int[0, 3]).Select(m => (Corpus: m.Item1, Bytes: Array.Empty<byte>(), At: m.Item2, Value: m.Item3, Kind: m.Item4)));
        long total = 0;
        Gen.Select(Gen.ULong, datagram.Array[DatagramsPerRound]).Sample((seed, round) =>
        {
            var relay = new TestRelay(TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest, v6: true, lowest: 50000, highest: 50031), seed);
            var client = relay.Client("198.51.100.1:1000", salt: "alice");
            var corpus = Corpus(client);
            AllocationPort port = client.AllocatedPort(client.Allocate());
            client.ChannelBind(0x4000, "192.0.2.1:5000");
            int i = 0;
            foreach (var (which, bytes, at, value, kind) in round)
            {
                byte[] input = which < 0 ? bytes : Mutate((byte[])corpus[which].Clone(), at, value, kind);
                var source = ClientSocket.Parse($"198.51.100.{i % 200}:{1000 + (i % 7)}");
                relay.Server.HandleClientInput(input, i % 3 == 0 ? client.Socket : source, relay.Now);
                relay.FromPeer(PeerSocket.Parse("192.0.2.1:5000"), port, input);
                if (++i % 100 == 0)
                {
                    relay.Drain(); // applies the commands, asserting the host-side invariants
                    Assert.Empty(relay.Server.FindInconsistencies());
                }
            }

            relay.Drain();
            Assert.Empty(relay.Server.FindInconsistencies());
            Interlocked.Add(ref total, 2 * round.Length);
        }, iter: Rounds, threads: 1);

        output.WriteLine($"{total:N0} datagrams (client and peer side) without an exception or a broken invariant");
        Assert.True(total >= 1_000_000);
    }

    [Fact]
    public void A_million_spoofed_source_allocates_leave_managed_memory_bounded()
    {
        var options = TestRelay.DefaultOptions();
        var relay = new TestRelay(options);
        byte[] allocate = new MessageSpec(StunMethod.Allocate).RequestedTransport().Build();

        // Warm up (JIT, the nonce key, the limiter's table), then measure.
        Flood(relay, allocate, 0, 10_000);
        long before = Settled();
        Flood(relay, allocate, 10_000, 1_000_000);
        long after = Settled();

        long growth = after - before;
        output.WriteLine($"1,000,000 unauthenticated Allocates from distinct sources: managed heap {before:N0} -> {after:N0} bytes ({growth:+#,0;-#,0;0})");
        Assert.Equal(0, relay.Server.AllocationCount);
        Assert.True(growth < 1_000_000, $"the managed heap grew by {growth:N0} bytes");
    }

    /// <summary>Unauthenticated Allocates from <paramref name="count"/> distinct spoofed IPv4 sources; every answer taken as a host would.</summary>
    private static void Flood(TestRelay relay, byte[] allocate, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            var source = new ClientSocket(new TransportAddress(IpAddr.FromV4(0x0B00_0000u + (uint)i), (ushort)(1024 + (i & 0x3FF))));
            allocate[8] = (byte)i; // a new transaction each time
            relay.Server.HandleClientInput(allocate, source, relay.Now);
            while (relay.Server.PollCommand() is not null)
            {
            }
        }
    }

    private static long Settled()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static byte[] Mutate(byte[] bytes, int at, byte value, int kind)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        at %= bytes.Length;
        switch (kind)
        {
            case 0:
                bytes[at] ^= (byte)(value | 1);
                return bytes;
            case 1:
                return bytes[..at];
            case 2:
                return [.. bytes, value, value, value, value];
            default:
                return bytes; // unmodified: real messages, so state changes too
        }
    }
}
