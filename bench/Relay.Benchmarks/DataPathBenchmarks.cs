using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Relay.Benchmarks.Support;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Benchmarks;

/// <summary>
/// The relay hot path (targets: at most 100 ns and 0 bytes allocated per packet). One allocation with channel 0x4000
/// bound to <see cref="BenchRelay.ChannelPeer"/> and a permission (no channel) for <see cref="BenchRelay.PermittedPeer"/>.
/// Every payload is 100 bytes. Each measured call relays one packet; nothing is set up inside it.
/// </summary>
[MemoryDiagnoser]
public class DataPathBenchmarks
{
    private RelayServer _server = null!;
    private ClientSocket _client;
    private AllocationPort _port;
    private Instant _now;
    private byte[] _channelData = null!;
    private byte[] _sendIndication = null!;
    private byte[] _sendIndicationFingerprint = null!;
    private byte[] _peerBuffer = null!;
    private byte[] _indicationBuffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _now = BenchRelay.Now;
        _server = BenchRelay.Create();
        var client = new BenchClient(_server, BenchRelay.ClientA, "n23JJ2wKKtt30oXi", _now);
        _client = client.Socket;
        client.Challenge();
        _port = client.Allocate();
        client.ChannelBind(BenchRelay.Channel, BenchRelay.ChannelPeer);
        client.CreatePermission(BenchRelay.PermittedPeer);
        BenchRelay.Drain(_server);

        byte[] payload = BenchRelay.Payload();

        // ChannelData: 4-byte header + 100 bytes = 104 bytes.
        _channelData = new byte[ChannelData.HeaderLength + payload.Length];
        ChannelData.WriteHeader(_channelData, BenchRelay.Channel, payload.Length);
        payload.CopyTo(_channelData, ChannelData.HeaderLength);

        // Send indication: XOR-PEER-ADDRESS + DATA (no integrity: indications cannot be authenticated).
        _sendIndication = new StunRequest(StunMethod.Send, StunClass.Indication, StunRequest.TransactionId(0x5E4D_0000, 1))
            .AddXor(StunAttr.XorPeerAddress, BenchRelay.PermittedPeer.Address)
            .Add(StunAttr.Data, payload)
            .Build();

        // The same with FINGERPRINT (optional for a client to add; TryParse then checks its CRC-32).
        _sendIndicationFingerprint = new StunRequest(StunMethod.Send, StunClass.Indication, StunRequest.TransactionId(0x5E4D_0000, 2))
            .AddXor(StunAttr.XorPeerAddress, BenchRelay.PermittedPeer.Address)
            .Add(StunAttr.Data, payload)
            .Build(fingerprint: true);

        // Peer datagrams: the host receives into a buffer with headroom and tailroom; the engine frames in place.
        _peerBuffer = new byte[RelayServer.PeerHeadroom + payload.Length + RelayServer.PeerTailroom];
        payload.CopyTo(_peerBuffer, RelayServer.PeerHeadroom);
        _indicationBuffer = (byte[])_peerBuffer.Clone();

        Check();
    }

    /// <summary>Each benchmark must take the success path it claims to measure.</summary>
    private void Check()
    {
        Require(_channelData.Length == 104 && _sendIndication.Length == 136 && _sendIndicationFingerprint.Length == 144, "unexpected datagram sizes");
        ClientRoute route = ChannelDataRoute();
        Require(route.ShouldRelay && route.PayloadLength == BenchRelay.PayloadLength && route.Peer == BenchRelay.ChannelPeer, "ChannelData was not relayed");

        route = SendIndicationRoute();
        Require(route.ShouldRelay && route.PayloadLength == BenchRelay.PayloadLength && route.Peer == BenchRelay.PermittedPeer, "Send indication was not relayed");
        route = _server.HandleClientInput(_sendIndicationFingerprint, _client, _now);
        Require(route.ShouldRelay && route.PayloadLength == BenchRelay.PayloadLength && route.Peer == BenchRelay.PermittedPeer, "Send indication with FINGERPRINT was not relayed");

        PeerRoute peer = _server.HandlePeerInput(_peerBuffer, RelayServer.PeerHeadroom, BenchRelay.PayloadLength, BenchRelay.ChannelPeer, _port, _now);
        Require(peer.ShouldSend && peer.Length == ChannelData.HeaderLength + BenchRelay.PayloadLength
            && BinaryPrimitives.ReadUInt16BigEndian(_peerBuffer.AsSpan(peer.Offset)) == BenchRelay.Channel, "peer datagram was not framed as ChannelData");

        peer = _server.HandlePeerInput(_indicationBuffer, RelayServer.PeerHeadroom, BenchRelay.PayloadLength, BenchRelay.PermittedPeer, _port, _now);
        Require(peer.ShouldSend && StunMessage.TryParse(_indicationBuffer.AsSpan(peer.Offset, peer.Length), out StunMessage message) == StunParseResult.Ok
            && message.Method == (ushort)StunMethod.Data && message.Class == StunClass.Indication, "peer datagram was not framed as a Data indication");

        Require(BenchRelay.Drain(_server) == 0, "the data path queued commands");
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Benchmark setup: " + what + ".");
        }
    }

    private ClientRoute ChannelDataRoute() => _server.HandleClientInput(_channelData, _client, _now);

    private ClientRoute SendIndicationRoute() => _server.HandleClientInput(_sendIndication, _client, _now);

    /// <summary>1. A 104-byte ChannelData datagram from the client on a bound channel.</summary>
    [Benchmark]
    public int ChannelDataFromClient() => _server.HandleClientInput(_channelData, _client, _now).PayloadLength;

    /// <summary>2. 100 bytes from the channel's peer; the ChannelData header is written in place.</summary>
    [Benchmark]
    public int PeerDatagramToClient() =>
        _server.HandlePeerInput(_peerBuffer, RelayServer.PeerHeadroom, BenchRelay.PayloadLength, BenchRelay.ChannelPeer, _port, _now).Length;

    /// <summary>3. 100 bytes from a permitted peer without a channel; a Data indication is written in place.</summary>
    [Benchmark]
    public int PeerDatagramAsDataIndication() =>
        _server.HandlePeerInput(_indicationBuffer, RelayServer.PeerHeadroom, BenchRelay.PayloadLength, BenchRelay.PermittedPeer, _port, _now).Length;

    /// <summary>4. A Send indication (XOR-PEER-ADDRESS + 100-byte DATA, 136 bytes) from the client to a permitted peer.</summary>
    [Benchmark]
    public int SendIndicationFromClient() => _server.HandleClientInput(_sendIndication, _client, _now).PayloadLength;

    /// <summary>4b. The same Send indication with a FINGERPRINT attribute (144 bytes): TryParse checks its CRC-32.</summary>
    [Benchmark]
    public int SendIndicationWithFingerprintFromClient() => _server.HandleClientInput(_sendIndicationFingerprint, _client, _now).PayloadLength;
}
