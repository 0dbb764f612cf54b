using System.Buffers.Binary;
using System.Text;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Benchmarks.Support;

/// <summary>
/// A TURN client on one 5-tuple with valid Firezone credentials. Used only in setup: it drives the 401 challenge,
/// Allocate, ChannelBind and CreatePermission and checks every answer, so a benchmark never measures a failure path.
/// Authenticated requests carry MESSAGE-INTEGRITY (HMAC-SHA1, MD5 long-term key) and FINGERPRINT (optional in
/// RFC 8489; included as the costlier case: the relay checks its CRC-32 and then adds one to the response).
/// </summary>
internal sealed class BenchClient
{
    private readonly RelayServer _server;
    private readonly Instant _now;
    private ulong _transactions;

    public BenchClient(RelayServer server, ClientSocket socket, string salt, Instant now)
    {
        _server = server;
        _now = now;
        Socket = socket;
        long expiry = now.UnixSeconds + (30 * 86400);
        Username = $"{expiry}:{salt}";
        Realm = server.Options.Realm;
        string password = FirezoneCredentials.GeneratePassword(server.AuthSecret, (ulong)expiry, salt);
        Key = StunIntegrity.LongTermKey(Username, Realm, password);
    }

    public ClientSocket Socket { get; }

    public string Username { get; }

    public string Realm { get; }

    public byte[] Key { get; }

    public string? Nonce { get; private set; }

    /// <summary>Transaction ids of this client's setup requests (benchmarks make their own rings).</summary>
    private byte[] NextTransactionId() => StunRequest.TransactionId(0xC11E_0000, _transactions++);

    /// <summary>An unauthenticated Allocate; the 401 carries the nonce.</summary>
    public void Challenge()
    {
        byte[] request = new StunRequest(StunMethod.Allocate, StunClass.Request, NextTransactionId()).RequestedTransportUdp().Build();
        Response response = Exchange(request);
        Expect(response, 401, "challenge");
        Nonce = response.GetString(StunAttr.Nonce) ?? throw new InvalidOperationException("The 401 has no NONCE.");
    }

    /// <summary>Adds USERNAME, REALM and NONCE to <paramref name="request"/> and signs it.</summary>
    public byte[] Sign(StunRequest request)
    {
        if (Nonce is null)
        {
            Challenge();
        }

        return request.Add(StunAttr.Username, Username).Add(StunAttr.Realm, Realm).Add(StunAttr.Nonce, Nonce!)
            .Build(Key, fingerprint: true);
    }

    public static StunRequest AllocateRequest(byte[] transactionId) =>
        new StunRequest(StunMethod.Allocate, StunClass.Request, transactionId).RequestedTransportUdp();

    public static StunRequest ChannelBindRequest(byte[] transactionId, ushort channel, PeerSocket peer) =>
        new StunRequest(StunMethod.ChannelBind, StunClass.Request, transactionId).ChannelNumber(channel).AddXor(StunAttr.XorPeerAddress, peer.Address);

    public static StunRequest RefreshRequest(byte[] transactionId, uint lifetime) =>
        new StunRequest(StunMethod.Refresh, StunClass.Request, transactionId).AddUInt32(StunAttr.Lifetime, lifetime);

    /// <summary>Allocates; returns the relayed port.</summary>
    public AllocationPort Allocate()
    {
        Response response = Exchange(Sign(AllocateRequest(NextTransactionId())));
        Expect(response, 0, "Allocate");
        ReadOnlySpan<byte> relayed = response.Get(StunAttr.XorRelayedAddress);
        if (!XorAddress.TryDecode(relayed, response.Raw.AsSpan(0, StunConstants.HeaderLength), out TransportAddress address))
        {
            throw new InvalidOperationException("The Allocate success has no XOR-RELAYED-ADDRESS.");
        }

        return new AllocationPort(address.Port);
    }

    public void ChannelBind(ushort channel, PeerSocket peer) =>
        Expect(Exchange(Sign(ChannelBindRequest(NextTransactionId(), channel, peer))), 0, "ChannelBind");

    public void CreatePermission(PeerSocket peer) =>
        Expect(Exchange(Sign(new StunRequest(StunMethod.CreatePermission, StunClass.Request, NextTransactionId())
            .AddXor(StunAttr.XorPeerAddress, peer.Address))), 0, "CreatePermission");

    /// <summary>Sends a request and returns the one response it must produce (other commands are taken and ignored).</summary>
    public Response Exchange(byte[] request)
    {
        ClientRoute route = _server.HandleClientInput(request, Socket, _now);
        if (route.ShouldRelay)
        {
            throw new InvalidOperationException("A request was routed as data.");
        }

        Response? response = null;
        while (_server.PollCommand() is { } command)
        {
            if (command is SendToClient send)
            {
                if (response is not null || send.Client != Socket)
                {
                    throw new InvalidOperationException("Expected exactly one response, to the sender.");
                }

                response = new Response(send.Payload);
            }
        }

        return response ?? throw new InvalidOperationException("The request was not answered.");
    }

    /// <summary>Throws unless <paramref name="response"/> is a success (<paramref name="code"/> 0) or that error.</summary>
    public static void Expect(Response response, int code, string what)
    {
        if (response.ErrorCode != code || (code == 0) != response.IsSuccess)
        {
            throw new InvalidOperationException($"{what}: expected {(code == 0 ? "success" : code.ToString(System.Globalization.CultureInfo.InvariantCulture))}, got class {response.Class} error {response.ErrorCode}.");
        }
    }
}

/// <summary>A response copied out of its command, for setup checks.</summary>
internal sealed class Response
{
    public Response(byte[] raw)
    {
        Raw = raw;
        if (StunMessage.TryParse(raw, out StunMessage message) != StunParseResult.Ok)
        {
            throw new InvalidOperationException("The relay sent a malformed STUN message.");
        }

        Class = message.Class;
        foreach (StunAttribute attribute in message.Attributes)
        {
            Attributes.Add((attribute.Type, attribute.Value.ToArray()));
        }
    }

    public byte[] Raw { get; }

    public StunClass Class { get; }

    public List<(ushort Type, byte[] Value)> Attributes { get; } = new();

    public bool IsSuccess => Class == StunClass.SuccessResponse;

    public byte[] Get(ushort type)
    {
        foreach (var (t, value) in Attributes)
        {
            if (t == type)
            {
                return value;
            }
        }

        return [];
    }

    public string? GetString(ushort type) => Get(type) is { Length: > 0 } value ? Encoding.UTF8.GetString(value) : null;

    public int ErrorCode => Get(StunAttr.ErrorCode) is { Length: >= 4 } value ? ((value[2] & 7) * 100) + value[3] : 0;

    public uint? GetUInt32(ushort type) => Get(type) is { Length: 4 } value ? BinaryPrimitives.ReadUInt32BigEndian(value) : null;
}
