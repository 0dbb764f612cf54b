using System.Buffers.Binary;
using CsCheck;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Properties;

/// <summary>
/// Generated traffic against the engine: garbage and mutated messages never throw and never corrupt state, and
/// random request sequences keep the invariants (indexes agree, no port bound twice, every AddChannelBinding
/// eventually matched by exactly one RemoveChannelBinding, nothing left once everything has expired).
/// </summary>
public class EngineProperties
{
    private static readonly string[] ClientAddresses = ["198.51.100.1:1000", "198.51.100.1:1001", "[2001:db8::5]:2000"];
    private static readonly string[] Users = ["alice", "bob"];
    private static readonly string[] Peers = ["192.0.2.1:5000", "192.0.2.1:5001", "192.0.2.2:6000", "[2001:db8::9]:7000", "127.0.0.1:80"];
    private static readonly ushort[] Channels = [0x4000, 0x4001, 0x4FFF, 0x5000, 0x3FFF];

    private static TestRelay NewRelay(ulong seed) => new(TestRelay.DefaultOptions(
        scheme: AuthScheme.TurnRest, v6: true, lowest: 50000, highest: 50011, perUser: 2), seed);

    /// <summary>Valid messages of every kind a client sends, to be mutated.</summary>
    private static List<byte[]> Corpus(TestRelay relay, TestClient client)
    {
        client.Challenge();
        return
        [
            client.Sign(TestClient.AllocateSpec().Lifetime(700).Family(StunAttr.AdditionalAddressFamily, IpFamily.V6)),
            client.Sign(TestClient.AllocateSpec().Add(StunAttr.EvenPort, [0x80]).Add(StunAttr.DontFragment, []), fingerprint: true),
            client.Sign(new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4001).Peer("192.0.2.1:5000")),
            client.Sign(new MessageSpec(StunMethod.CreatePermission).Peer("192.0.2.2:1").Peer("[2001:db8::9]:1")),
            client.Sign(new MessageSpec(StunMethod.Refresh).Lifetime(0)),
            new MessageSpec(StunMethod.Send, StunClass.Indication).Peer("192.0.2.2:9").Add(StunAttr.Data, new byte[17]).Build(),
            new MessageSpec(StunMethod.Binding).Build(fingerprint: true),
            [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5],
        ];
    }

    private static void AssertConsistent(TestRelay relay)
    {
        relay.Drain(); // asserts the host-side invariants while applying commands
        Assert.Empty(relay.Server.FindInconsistencies());
    }

    private static void AssertEverythingExpires(TestRelay relay)
    {
        relay.AdvanceTo(relay.Now + TimeSpan.FromHours(3));
        AssertConsistent(relay);
        Assert.Equal(0, relay.Server.AllocationCount);
        Assert.Empty(relay.FastPath);
        Assert.Empty(relay.BoundSockets);
        Assert.Null(relay.Server.PollTimeout());
    }

    [Fact]
    public void Random_datagrams_never_throw_or_corrupt_state()
    {
        Gen.Select(Gen.ULong, Gen.Byte.Array[0, 120].Array[1, 30]).Sample((seed, datagrams) =>
        {
            var relay = NewRelay(seed);
            var client = relay.Client(ClientAddresses[0], salt: "alice");
            var port = client.AllocatedPort(client.Allocate());
            client.ChannelBind(0x4000, "192.0.2.1:5000");
            foreach (byte[] datagram in datagrams)
            {
                relay.Server.HandleClientInput(datagram, client.Socket, relay.Now);
                relay.Server.HandleClientInput(datagram, ClientSocket.Parse("198.51.100.200:7"), relay.Now);
                relay.FromPeer(PeerSocket.Parse("192.0.2.1:5000"), port, datagram);
                AssertConsistent(relay);
            }

            Assert.True(client.SendChannelData(0x4000, [1]).ShouldRelay); // the allocation still works
            AssertEverythingExpires(relay);
        }, iter: 300);
    }

    [Fact]
    public void Mutated_valid_messages_never_throw_or_corrupt_state()
    {
        var mutation = Gen.Select(Gen.Int[0, 7], Gen.Int[0, 400], Gen.Byte, Gen.Int[0, 3]);
        Gen.Select(Gen.ULong, mutation.Array[1, 20]).Sample((seed, mutations) =>
        {
            var relay = NewRelay(seed);
            var client = relay.Client(ClientAddresses[0], salt: "alice");
            var corpus = Corpus(relay, client);
            foreach (var (which, position, value, kind) in mutations)
            {
                byte[] datagram = (byte[])corpus[which].Clone();
                int at = position % Math.Max(1, datagram.Length);
                datagram = kind switch
                {
                    0 => Flip(datagram, at, value),
                    1 => datagram[..at],
                    2 => [.. datagram, value, value],
                    _ => datagram, // unmodified: the real message, so state actually changes
                };
                relay.Server.HandleClientInput(datagram, client.Socket, relay.Now);
                AssertConsistent(relay);
            }

            AssertEverythingExpires(relay);
        }, iter: 300);

        static byte[] Flip(byte[] bytes, int at, byte value)
        {
            if (bytes.Length > 0)
            {
                bytes[at] ^= (byte)(value | 1);
            }

            return bytes;
        }
    }

    private enum Op
    {
        Allocate,
        AllocateDual,
        AllocateEvenPair,
        Refresh,
        Delete,
        ChannelBind,
        CreatePermission,
        ChannelData,
        PeerData,
        Advance,
        Evict,
        FailNextBind,
    }

    [Fact]
    public void Random_request_sequences_keep_the_invariants()
    {
        var step = Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 2], Gen.Int[0, 4], Gen.Int[0, 4], Gen.Int[1, 400]);
        Gen.Select(Gen.ULong, step.Array[1, 60]).Sample((seed, steps) =>
        {
            var relay = NewRelay(seed);
            var clients = ClientAddresses.Select((a, i) => relay.Client(a, salt: Users[i % Users.Length])).ToArray();
            var ports = new Dictionary<ClientSocket, AllocationPort>();
            foreach (var (op, c, p, ch, seconds) in steps)
            {
                TestClient client = clients[c];
                switch (op)
                {
                    case Op.Allocate or Op.AllocateDual or Op.AllocateEvenPair:
                        var spec = TestClient.AllocateSpec();
                        if (op == Op.AllocateDual)
                        {
                            spec.Family(StunAttr.AdditionalAddressFamily, IpFamily.V6);
                        }
                        else if (op == Op.AllocateEvenPair)
                        {
                            spec.Add(StunAttr.EvenPort, [0x80]);
                        }

                        var response = client.Request(spec);
                        if (response.IsSuccess)
                        {
                            ports[client.Socket] = client.AllocatedPort(response);
                        }

                        break;
                    case Op.Refresh:
                        client.Refresh((uint)(seconds * 5));
                        break;
                    case Op.Delete:
                        client.Refresh(0);
                        break;
                    case Op.ChannelBind:
                        client.ChannelBind(Channels[ch], Peers[p]);
                        break;
                    case Op.CreatePermission:
                        client.CreatePermission(Peers[p]);
                        break;
                    case Op.ChannelData:
                        client.SendChannelData(Channels[ch], new byte[seconds % 50]);
                        break;
                    case Op.PeerData when ports.TryGetValue(client.Socket, out var port):
                        relay.FromPeer(PeerSocket.Parse(Peers[p]), port, new byte[seconds % 50]);
                        break;
                    case Op.Advance:
                        relay.AdvanceTo(relay.Now + TimeSpan.FromSeconds(seconds));
                        break;
                    case Op.Evict:
                        var victims = relay.Server.SnapshotAllocations();
                        if (victims.Count > 0)
                        {
                            relay.Server.EvictAllocation(victims[seconds % victims.Count].Id);
                        }

                        break;
                    case Op.FailNextBind:
                        relay.FailBinds.Add(((ushort)(50000 + (seconds % 12)), p % 2 == 0 ? IpFamily.V4 : IpFamily.V6));
                        break;
                }

                AssertConsistent(relay);
            }

            relay.FailBinds.Clear();
            AssertEverythingExpires(relay);
        }, iter: 400);
    }
}
