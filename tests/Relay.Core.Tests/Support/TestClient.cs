using System.Buffers.Binary;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;

using Relay.TestSupport;

namespace Relay.Core.Tests.Support;

/// <summary>A TURN client on one 5-tuple with valid credentials for the relay's scheme.</summary>
public sealed class TestClient
{
    private readonly TestRelay _relay;
    private readonly TurnSigner _signer;

    public TestClient(TestRelay relay, ClientSocket socket, string user, long expiry)
    {
        _relay = relay;
        Socket = socket;
        _signer = new TurnSigner(relay.Options.AuthScheme, TestRelay.Secret, user, expiry, relay.Options.Realm);
    }

    public ClientSocket Socket { get; }

    public string Username { get => _signer.Username; set => _signer.Username = value; }

    public string Password { get => _signer.Password; set => _signer.Password = value; }

    public string Realm { get => _signer.Realm; set => _signer.Realm = value; }

    public string? Nonce { get => _signer.Nonce; set => _signer.Nonce = value; }

    public byte[] Key => _signer.Key;

    /// <summary>Fetches a nonce with an unauthenticated Allocate (the 401 challenge).</summary>
    public ParsedMessage Challenge()
    {
        var response = _relay.Exchange(Socket, new MessageSpec(StunMethod.Allocate).RequestedTransport().Build());
        Assert.Equal(401, response.ErrorCode);
        Nonce = response.GetString(StunAttr.Nonce);
        Assert.Equal("firezone", response.GetString(StunAttr.Realm));
        return response;
    }

    /// <summary>Adds USERNAME, REALM and NONCE, then signs; fetches a nonce first when there is none.</summary>
    public byte[] Sign(MessageSpec spec, IntegrityKind kind = IntegrityKind.Sha1, bool fingerprint = false)
    {
        if (Nonce is null)
        {
            Challenge();
        }

        return _signer.Sign(spec, kind, fingerprint);
    }

    /// <summary>Like a real client, retry once with the fresh nonce of a 438 (unless turned off).</summary>
    public bool RenewStaleNonce { get; set; } = true;

    public ParsedMessage Request(MessageSpec spec, bool fingerprint = false)
    {
        int attributes = spec.Attributes.Count;
        var response = _relay.Exchange(Socket, Sign(spec, fingerprint: fingerprint));
        if (RenewStaleNonce && response.ErrorCode == 438)
        {
            Nonce = response.GetString(StunAttr.Nonce);
            spec.Attributes.RemoveRange(attributes, spec.Attributes.Count - attributes);
            response = _relay.Exchange(Socket, Sign(spec, fingerprint: fingerprint));
        }

        return response;
    }

    public static MessageSpec AllocateSpec() => new MessageSpec(StunMethod.Allocate).RequestedTransport();

    /// <summary>Allocates and asserts success; returns the response.</summary>
    public ParsedMessage Allocate(Action<MessageSpec>? customize = null)
    {
        var spec = AllocateSpec();
        customize?.Invoke(spec);
        var response = Request(spec);
        Assert.True(response.IsSuccess, $"Allocate failed: {response}");
        Assert.True(response.VerifyIntegrity(Key));
        return response;
    }

    public AllocationPort AllocatedPort(ParsedMessage allocateResponse) =>
        new(allocateResponse.GetXorAddress(StunAttr.XorRelayedAddress)!.Value.Port);

    public ParsedMessage ChannelBind(ushort number, string peer) =>
        Request(new MessageSpec(StunMethod.ChannelBind).ChannelNumber(number).Peer(peer));

    public ParsedMessage CreatePermission(params string[] peers)
    {
        var spec = new MessageSpec(StunMethod.CreatePermission);
        foreach (string peer in peers)
        {
            spec.Peer(peer);
        }

        return Request(spec);
    }

    public ParsedMessage Refresh(uint? lifetime = null)
    {
        var spec = new MessageSpec(StunMethod.Refresh);
        if (lifetime is { } value)
        {
            spec.Lifetime(value);
        }

        return Request(spec);
    }

    public ClientRoute SendChannelData(ushort channel, byte[] payload, int padding = 0)
    {
        var datagram = new byte[4 + payload.Length + padding];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, channel);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)payload.Length);
        payload.CopyTo(datagram, 4);
        return _relay.Server.HandleClientInput(datagram, Socket, _relay.Now);
    }

    public (ClientRoute Route, byte[] Datagram) SendIndication(string peer, byte[] data)
    {
        var datagram = new MessageSpec(StunMethod.Send, StunClass.Indication).Peer(peer).Add(StunAttr.Data, data).Build();
        return (_relay.Server.HandleClientInput(datagram, Socket, _relay.Now), datagram);
    }
}
