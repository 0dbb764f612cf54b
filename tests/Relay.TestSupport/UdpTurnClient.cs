using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Stun;
using Xunit;
namespace Relay.TestSupport;

/// <summary>A TURN client over a real UDP socket (on loopback unless given one), with bounded waits.</summary>
public sealed class UdpTurnClient : IDisposable
{
    /// <summary>The relay secret test relays run with (RFC-sized, 64 hex characters).</summary>
    public const string DefaultSecret = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private readonly Socket _socket;
    private readonly IPEndPoint _server;

    public UdpTurnClient(IPEndPoint server, string user = "client", AuthScheme scheme = AuthScheme.Firezone, string secret = DefaultSecret)
        : this(LoopbackSocket(server.AddressFamily), server, user, scheme, secret)
    {
    }

    /// <summary>A client on <paramref name="socket"/> (already bound, for example inside a network namespace); it takes ownership.</summary>
    public UdpTurnClient(Socket socket, IPEndPoint server, string user = "client", AuthScheme scheme = AuthScheme.Firezone, string secret = DefaultSecret)
    {
        _server = server;
        _socket = socket;
        Signer = new TurnSigner(scheme, secret, user, DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds());
    }

    private static Socket LoopbackSocket(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
        return socket;
    }

    public TurnSigner Signer { get; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Datagrams waiting to be read.</summary>
    public int Available => _socket.Available;

    /// <summary>Sends an authenticated request (fetching or renewing the nonce as a real client does).</summary>
    public async Task<ParsedMessage> RequestAsync(Func<MessageSpec> build)
    {
        if (Signer.Nonce is null)
        {
            var challenge = await ExchangeAsync(new MessageSpec(StunMethod.Allocate).RequestedTransport().Build());
            Assert.Equal(401, challenge.ErrorCode);
            Signer.Nonce = challenge.GetString(StunAttr.Nonce);
        }

        var response = await ExchangeAsync(Signer.Sign(build()));
        if (response.ErrorCode == 438)
        {
            Signer.Nonce = response.GetString(StunAttr.Nonce);
            response = await ExchangeAsync(Signer.Sign(build()));
        }

        return response;
    }

    public async Task<ParsedMessage> ExchangeAsync(byte[] request)
    {
        byte[] transactionId = request[8..20];
        await _socket.SendToAsync(request, _server);
        while (true)
        {
            byte[] datagram = await ReceiveAsync();
            if (datagram.Length >= 20 && datagram[0] < 4 && datagram.AsSpan(8, 12).SequenceEqual(transactionId))
            {
                return Msg.Parse(datagram);
            }
        }
    }

    public async Task<TransportAddress> AllocateAsync(IpFamily? family = null)
    {
        var response = await RequestAsync(() =>
        {
            var spec = new MessageSpec(StunMethod.Allocate).RequestedTransport();
            if (family is { } f)
            {
                spec.Family(StunAttr.RequestedAddressFamily, f);
            }

            return spec;
        });
        Assert.True(response.IsSuccess, $"Allocate failed: {response}");
        return response.GetXorAddress(StunAttr.XorRelayedAddress)!.Value;
    }

    public async Task ChannelBindAsync(ushort channel, IPEndPoint peer)
    {
        var response = await RequestAsync(() => new MessageSpec(StunMethod.ChannelBind).ChannelNumber(channel).Peer(peer.ToString()));
        Assert.True(response.IsSuccess, $"ChannelBind failed: {response}");
    }

    public async Task CreatePermissionAsync(IPEndPoint peer)
    {
        var response = await RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer(peer.ToString()));
        Assert.True(response.IsSuccess, $"CreatePermission failed: {response}");
    }

    public Task<ParsedMessage> RefreshAsync(uint lifetime) => RequestAsync(() => new MessageSpec(StunMethod.Refresh).Lifetime(lifetime));

    public async Task SendChannelDataAsync(ushort channel, byte[] payload)
    {
        var datagram = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, channel);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)payload.Length);
        payload.CopyTo(datagram, 4);
        await _socket.SendToAsync(datagram, _server);
    }

    public async Task SendIndicationAsync(IPEndPoint peer, byte[] payload) =>
        await _socket.SendToAsync(new MessageSpec(StunMethod.Send, StunClass.Indication).Peer(peer.ToString()).Add(StunAttr.Data, payload).Build(), _server);

    public async Task<byte[]> ReceiveAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[65536];
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        var result = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(_server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), cancel.Token);
        return buffer[..result.ReceivedBytes];
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>A UDP peer on loopback: what the client relays to.</summary>
public sealed class UdpPeer : IDisposable
{
    private readonly Socket _socket;

    public UdpPeer(AddressFamily family)
    {
        _socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
    }

    /// <summary>A peer on <paramref name="socket"/> (already bound); it takes ownership.</summary>
    public UdpPeer(Socket socket) => _socket = socket;

    /// <summary>Datagrams waiting to be read.</summary>
    public int Available => _socket.Available;

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public async Task<(byte[] Data, IPEndPoint From)> ReceiveAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[65536];
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(3));
        var any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        var result = await _socket.ReceiveFromAsync(buffer, any, cancel.Token);
        return (buffer[..result.ReceivedBytes], (IPEndPoint)result.RemoteEndPoint);
    }

    public Task SendAsync(byte[] data, TransportAddress to) => _socket.SendToAsync(data, to.ToIPEndPoint());

    /// <summary>
    /// Sends <paramref name="data"/> as datagrams of <paramref name="segment"/> bytes in one UDP GSO send, so they all
    /// wait in the receiver's queue together (the relay then reads them in one batch).
    /// </summary>
    public void SendSegmented(byte[] data, int segment, TransportAddress to)
    {
        _socket.SetRawSocketOption(17 /* SOL_UDP */, 103 /* UDP_SEGMENT */, BitConverter.GetBytes(segment));
        try
        {
            _socket.SendTo(data, to.ToIPEndPoint());
        }
        finally
        {
            _socket.SetRawSocketOption(17, 103, BitConverter.GetBytes(0));
        }
    }

    public void Dispose() => _socket.Dispose();
}
