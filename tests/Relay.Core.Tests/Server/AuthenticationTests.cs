using System.Text;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Server;

public class AuthenticationTests
{
    private readonly TestRelay _relay = new();

    [Fact]
    public void Binding_is_answered_without_authentication_with_the_mapped_address()
    {
        var client = ClientSocket.Parse("198.51.100.7:40000");
        var response = _relay.Exchange(client, new MessageSpec(StunMethod.Binding).Build());
        Assert.Equal(StunMethod.Binding, response.Method);
        Assert.True(response.IsSuccess);
        Assert.Equal(client.Address, response.GetXorAddress(StunAttr.XorMappedAddress));
        Assert.False(response.HasIntegrity);
        Assert.False(response.HasFingerprint);
        Assert.False(response.Has(StunAttr.Software)); // not configured: omitted
    }

    [Fact]
    public void Binding_over_ipv6_maps_the_ipv6_source()
    {
        var client = ClientSocket.Parse("[2001:db8::7]:40000");
        var response = _relay.Exchange(client, new MessageSpec(StunMethod.Binding).Build());
        Assert.Equal(client.Address, response.GetXorAddress(StunAttr.XorMappedAddress));
    }

    [Fact]
    public void A_request_with_fingerprint_gets_a_response_with_a_valid_fingerprint()
    {
        var client = ClientSocket.Parse("198.51.100.7:40000");
        var response = _relay.Exchange(client, new MessageSpec(StunMethod.Binding).Build(fingerprint: true));
        Assert.True(response.HasFingerprint); // Msg.Parse already verified it
    }

    [Fact]
    public void A_request_with_a_wrong_fingerprint_is_dropped()
    {
        byte[] request = new MessageSpec(StunMethod.Binding).Build(fingerprint: true);
        request[^1] ^= 0xFF;
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:40000"), request);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.BadFingerprint));
    }

    [Fact]
    public void Software_goes_only_into_authenticated_responses()
    {
        var options = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions { PublicIPv4 = options.PublicIPv4, RelaySecret = TestRelay.Secret, Software = "relay-test" });
        var client = relay.Client("198.51.100.7:40000");

        Assert.False(relay.Exchange(client.Socket, new MessageSpec(StunMethod.Binding).Build()).Has(StunAttr.Software));
        Assert.False(client.Challenge().Has(StunAttr.Software));
        var allocated = client.Allocate();
        Assert.Equal("relay-test", allocated.GetString(StunAttr.Software));
        Assert.Equal("relay-test", client.Request(new MessageSpec(StunMethod.Refresh).Lifetime(600)).GetString(StunAttr.Software));
    }

    /// <summary>
    /// An unauthenticated response carries exactly what the RFC requires: a Binding success its XOR-MAPPED-ADDRESS,
    /// a challenge ERROR-CODE, REALM, NONCE and the PASSWORD-ALGORITHMS its nonce cookie requires; FINGERPRINT only
    /// when the request had one.
    /// </summary>
    [Fact]
    public void Unauthenticated_responses_carry_only_the_required_attributes()
    {
        var relay = new TestRelay(new RelayServerOptions { PublicIPv4 = TestRelay.DefaultOptions().PublicIPv4, RelaySecret = TestRelay.Secret, Software = "relay-test" });
        var socket = ClientSocket.Parse("198.51.100.7:40000");

        var binding = relay.Exchange(socket, new MessageSpec(StunMethod.Binding).Build());
        Assert.Equal([StunAttr.XorMappedAddress], binding.Attributes.Select(a => a.Type));
        var challenge = relay.Exchange(socket, new MessageSpec(StunMethod.Allocate).RequestedTransport().Add(0x7777, [1]).Build());
        Assert.Equal(401, challenge.ErrorCode); // not 420: attributes are checked after authentication
        Assert.Equal([StunAttr.ErrorCode, StunAttr.Realm, StunAttr.Nonce, StunAttr.PasswordAlgorithms], challenge.Attributes.Select(a => a.Type));
        var refresh = relay.Exchange(socket, new MessageSpec(StunMethod.Refresh).Build(fingerprint: true));
        Assert.Equal([StunAttr.ErrorCode, StunAttr.Realm, StunAttr.Nonce, StunAttr.PasswordAlgorithms], refresh.Attributes.Select(a => a.Type));
        Assert.True(refresh.HasFingerprint);
    }

    [Fact]
    public void An_authenticated_request_with_an_unknown_comprehension_required_attribute_gets_an_integrity_protected_420()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var response = client.Request(TestClient.AllocateSpec().Add(0x7777, [1, 2, 3, 4]));
        Assert.Equal(420, response.ErrorCode);
        Assert.True(response.HasIntegrity);
        Assert.Equal(new byte[] { 0x77, 0x77 }, response.Get(StunAttr.UnknownAttributes));
        Assert.Equal(0, _relay.Server.AllocationCount);
    }

    [Fact]
    public void Unauthenticated_allocate_gets_401_with_realm_and_nonce_and_a_retry_succeeds()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var challenge = client.Challenge();
        Assert.False(challenge.HasIntegrity);
        Assert.Equal(StatelessNonces.Length, challenge.GetString(StunAttr.Nonce)!.Length);

        var response = client.Request(TestClient.AllocateSpec());
        Assert.True(response.IsSuccess);
        Assert.True(response.VerifyIntegrity(client.Key));
    }

    [Fact]
    public void Wrong_password_gets_401_with_a_nonce_and_no_integrity()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Password = "wrong";
        var response = client.Request(TestClient.AllocateSpec());
        Assert.Equal(401, response.ErrorCode);
        Assert.True(response.Has(StunAttr.Nonce));
        Assert.Equal("firezone", response.GetString(StunAttr.Realm));
        Assert.False(response.HasIntegrity);
        Assert.Contains(_relay.Events, e => e is AuthenticationFailed { Reason: AuthFailure.WrongPassword });
        Assert.Equal(0, _relay.Server.AllocationCount);
    }

    [Fact]
    public void Expired_username_gets_401()
    {
        var client = _relay.Client("198.51.100.7:40000", expiry: _relay.Now.UnixSeconds - 1);
        var response = client.Request(TestClient.AllocateSpec());
        Assert.Equal(401, response.ErrorCode);
        Assert.Contains(_relay.Events, e => e is AuthenticationFailed { Reason: AuthFailure.ExpiredUsername });
    }

    [Fact]
    public void Malformed_username_gets_401()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Username = "foobar";
        Assert.Equal(401, client.Request(TestClient.AllocateSpec()).ErrorCode);
        Assert.Contains(_relay.Events, e => e is AuthenticationFailed { Reason: AuthFailure.InvalidUsername });
    }

    [Fact]
    public void Wrong_realm_gets_401()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Realm = "example.org";
        Assert.Equal(401, client.Request(TestClient.AllocateSpec()).ErrorCode);
    }

    [Fact]
    public void Integrity_without_username_realm_or_nonce_is_400()
    {
        var client = _relay.Client("198.51.100.7:40000");
        byte[] request = TestClient.AllocateSpec().Add(StunAttr.Username, client.Username).Build(client.Key);
        Assert.Equal(400, _relay.Exchange(client.Socket, request).ErrorCode);
    }

    [Fact]
    public void A_nonce_issued_to_another_client_gets_438_with_a_fresh_nonce()
    {
        var alice = _relay.Client("198.51.100.7:40000");
        var bob = _relay.Client("198.51.100.8:40000", salt: "bob");
        alice.Challenge();
        bob.Nonce = alice.Nonce;
        bob.RenewStaleNonce = false;
        var response = bob.Request(TestClient.AllocateSpec());
        Assert.Equal(438, response.ErrorCode);
        string fresh = response.GetString(StunAttr.Nonce)!;
        Assert.NotEqual(alice.Nonce, fresh);
        bob.Nonce = fresh;
        Assert.True(bob.Request(TestClient.AllocateSpec()).IsSuccess);
    }

    [Fact]
    public void A_nonce_older_than_ten_minutes_gets_438()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.RenewStaleNonce = false;
        client.Allocate(spec => spec.Lifetime(3600));
        _relay.Advance(TimeSpan.FromSeconds(601));
        var response = client.Refresh();
        Assert.Equal(438, response.ErrorCode);
        Assert.False(response.HasIntegrity);
        client.Nonce = response.GetString(StunAttr.Nonce);
        Assert.True(client.Refresh().IsSuccess);
    }

    [Fact]
    public void Unauthenticated_requests_from_many_spoofed_sources_leave_no_state()
    {
        for (int i = 0; i < 5000; i++)
        {
            var source = new ClientSocket(new TransportAddress(IpAddr.FromV4(0x0A000000u + (uint)i), (ushort)(1024 + i)));
            _relay.Server.HandleClientInput(TestClient.AllocateSpec().Build(), source, _relay.Now);
        }

        Assert.Equal(5000, _relay.Drain().OfType<SendToClient>().Count(s => s.ErrorCode == 401));
        Assert.Equal(0, _relay.Server.AllocationCount);
        Assert.Null(_relay.Server.PollTimeout()); // nothing scheduled: no per-source nonce, no timers
    }

    [Fact]
    public void Message_integrity_sha256_is_accepted_and_answered_in_kind()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        byte[] request = client.Sign(TestClient.AllocateSpec(), IntegrityKind.Sha256);
        var response = _relay.Exchange(client.Socket, request);
        Assert.True(response.IsSuccess);
        Assert.True(response.HasIntegritySha256);
        Assert.False(response.HasIntegrity);
        Assert.True(response.VerifyIntegrity(client.Key));
    }

    private static readonly byte[] Offered = [0, 2, 0, 0, 0, 1, 0, 0];

    /// <summary>An RFC 8489 client: echoes PASSWORD-ALGORITHMS, picks SHA-256, keys with SHA-256, signs with MI-SHA256.</summary>
    private static byte[] SignSha256(TestClient client, MessageSpec spec, byte[]? algorithms = null, byte[]? choice = null)
    {
        spec.Add(StunAttr.PasswordAlgorithms, algorithms ?? Offered).Add(StunAttr.PasswordAlgorithm, choice ?? [0, 2, 0, 0])
            .Add(StunAttr.Username, client.Username).Add(StunAttr.Realm, client.Realm).Add(StunAttr.Nonce, client.Nonce!);
        return spec.Build(StunIntegrity.LongTermKey(client.Username, client.Realm, client.Password, PasswordAlgorithm.Sha256), IntegrityKind.Sha256);
    }

    [Fact]
    public void Challenges_offer_sha256_with_the_nonce_cookie_and_password_algorithms()
    {
        var challenge = _relay.Client("198.51.100.7:40000").Challenge();
        Assert.StartsWith("obMatJos2gAAA", challenge.GetString(StunAttr.Nonce));
        Assert.Equal(Offered, challenge.Get(StunAttr.PasswordAlgorithms));
    }

    [Fact]
    public void An_rfc_8489_client_allocates_and_binds_a_channel_with_sha256_keys_and_integrity()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        byte[] key = StunIntegrity.LongTermKey(client.Username, client.Realm, client.Password, PasswordAlgorithm.Sha256);

        var allocated = _relay.Exchange(client.Socket, SignSha256(client, TestClient.AllocateSpec()));
        var bound = _relay.Exchange(client.Socket, SignSha256(client, new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x4000).Peer("192.0.2.10:5000")));

        Assert.True(allocated.IsSuccess);
        Assert.True(allocated.HasIntegritySha256);
        Assert.True(allocated.VerifyIntegrity(key));
        Assert.False(allocated.VerifyIntegrity(client.Key)); // not the MD5 key
        Assert.True(bound.IsSuccess);
        Assert.True(bound.VerifyIntegrity(key));
        Assert.True(client.SendChannelData(0x4000, [1, 2, 3]).ShouldRelay);
    }

    [Theory]
    [InlineData(new byte[] { 0, 1, 0, 0 }, null)] // bid-down: an attacker stripped SHA-256 from the 401's list
    [InlineData(new byte[] { 0, 1, 0, 0, 0, 2, 0, 0 }, null)] // reordered
    [InlineData(null, new byte[] { 0, 3, 0, 0 })] // an algorithm that was not offered
    [InlineData(null, new byte[] { 0, 2, 0, 4 })] // parameters SHA-256 does not take
    public void A_password_algorithms_list_other_than_the_offered_one_or_an_unoffered_choice_is_400(byte[]? algorithms, byte[]? choice)
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        Assert.Equal(400, _relay.Exchange(client.Socket, SignSha256(client, TestClient.AllocateSpec(), algorithms, choice)).ErrorCode);
        Assert.Equal(0, _relay.Server.AllocationCount);
    }

    [Fact]
    public void Password_algorithm_without_the_list_is_400_and_neither_means_md5()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        var alone = TestClient.AllocateSpec().Add(StunAttr.PasswordAlgorithm, [0, 2, 0, 0])
            .Add(StunAttr.Username, client.Username).Add(StunAttr.Realm, client.Realm).Add(StunAttr.Nonce, client.Nonce!);
        byte[] sha256Key = StunIntegrity.LongTermKey(client.Username, client.Realm, client.Password, PasswordAlgorithm.Sha256);
        Assert.Equal(400, _relay.Exchange(client.Socket, alone.Build(sha256Key, IntegrityKind.Sha256)).ErrorCode);

        Assert.True(client.Request(TestClient.AllocateSpec()).VerifyIntegrity(client.Key)); // an RFC 5389 client: MD5
    }

    [Fact]
    public void Turn_rest_credentials_are_accepted_in_turn_rest_mode()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest));
        var client = relay.Client("198.51.100.7:40000", salt: "alice");
        Assert.True(client.Request(TestClient.AllocateSpec()).IsSuccess);

        var firezoneStyle = relay.Client("198.51.100.8:40000", salt: "bob");
        firezoneStyle.Password = FirezoneCredentials.GeneratePassword(TestRelay.Secret, (ulong)(relay.Now.UnixSeconds + 3600), "bob");
        Assert.Equal(401, firezoneStyle.Request(TestClient.AllocateSpec()).ErrorCode);
    }

    [Fact]
    public void The_relay_secret_is_generated_when_not_configured()
    {
        var options = new RelayServerOptions { PublicIPv4 = IpAddr.Parse("203.0.113.1") };
        var a = new RelayServer(options, new Relay.Core.Randomness.SeededRandom(1));
        var b = new RelayServer(options, new Relay.Core.Randomness.SeededRandom(2));
        Assert.Matches("^[0-9a-f]{64}$", a.AuthSecret);
        Assert.NotEqual(a.AuthSecret, b.AuthSecret);
        Assert.Equal(a.AuthSecret, new RelayServer(options, new Relay.Core.Randomness.SeededRandom(1)).AuthSecret);
    }

    [Fact]
    public void Unknown_comprehension_required_attributes_get_420_listing_them()
    {
        var client = ClientSocket.Parse("198.51.100.7:40000");
        byte[] request = new MessageSpec(StunMethod.Binding).Add(0x7777, [1, 2, 3, 4]).Add(0x7778, []).Add(0x7777, [5]).Build();
        var response = _relay.Exchange(client, request);
        Assert.Equal(420, response.ErrorCode);
        Assert.Equal(new byte[] { 0x77, 0x77, 0x77, 0x78 }, response.Get(StunAttr.UnknownAttributes));
    }

    [Fact]
    public void Unknown_comprehension_optional_attributes_like_origin_are_ignored()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var response = client.Request(TestClient.AllocateSpec().Add(StunAttr.Origin, "http://localhost:3000/").Add(0xC001, [9]));
        Assert.True(response.IsSuccess);
    }

    [Fact]
    public void Ice_attributes_on_a_binding_request_are_tolerated()
    {
        var response = _relay.Exchange(ClientSocket.Parse("198.51.100.7:40000"),
            new MessageSpec(StunMethod.Binding).AddUInt32(StunAttr.Priority, 0x6e0001ff).Add(StunAttr.UseCandidate, []).Build());
        Assert.True(response.IsSuccess);
    }

    [Fact]
    public void Unknown_methods_get_400()
    {
        byte[] request = new byte[20];
        request[1] = 0x0A; // Connect (RFC 6062), not supported
        request[4] = 0x21; request[5] = 0x12; request[6] = 0xA4; request[7] = 0x42;
        Assert.Equal(400, _relay.Exchange(ClientSocket.Parse("198.51.100.7:40000"), request).ErrorCode);
    }

    [Fact]
    public void A_request_whose_attributes_are_malformed_gets_400_and_other_classes_are_dropped()
    {
        byte[] request = Convert.FromHexString("00030008" + "2112a442" + "0102030405060708090a0b0c" + "00060008" + "61626364");
        var response = _relay.Exchange(ClientSocket.Parse("198.51.100.7:40000"), request);
        Assert.Equal(400, response.ErrorCode);
        Assert.Equal(StunMethod.Allocate, response.Method);
        Assert.Equal(Convert.FromHexString("0102030405060708090a0b0c"), response.TransactionId);

        request[0] = 0x01; request[1] = 0x03; // same, as a success response
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:40000"), request);
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.MalformedStun));
    }

    [Fact]
    public void Responses_and_stray_indications_are_dropped()
    {
        var client = ClientSocket.Parse("198.51.100.7:40000");
        _relay.SendSilently(client, new MessageSpec(StunMethod.Binding, StunClass.SuccessResponse).Build());
        _relay.SendSilently(client, new MessageSpec(StunMethod.Data, StunClass.Indication).Build());
        _relay.SendSilently(client, new MessageSpec(StunMethod.Binding, StunClass.Indication).Build()); // keepalive
        Assert.Equal(2, _relay.Server.Counters.Drops(DropReason.UnexpectedStunClass));
    }

    [Fact]
    public void Datagrams_from_source_port_zero_are_dropped_before_parsing()
    {
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:0"), new MessageSpec(StunMethod.Binding).Build());
        Assert.Equal(1, _relay.Server.Counters.Drops(DropReason.ClientPortZero));
    }

    [Fact]
    public void Non_turn_first_bytes_are_dropped()
    {
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:1"), [0x80, 1, 2, 3]); // RTP
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:1"), [0x16, 0xFE, 0xFD]); // DTLS
        _relay.SendSilently(ClientSocket.Parse("198.51.100.7:1"), []);
        Assert.Equal(3, _relay.Server.Counters.Drops(DropReason.NotTurn));
    }

    [Fact]
    public void Utf8_usernames_are_handled()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest));
        var client = relay.Client("198.51.100.7:40000", salt: "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9");
        Assert.True(client.Request(TestClient.AllocateSpec()).IsSuccess);
        Assert.Equal(client.Username, relay.Server.SnapshotAllocations().Single().Username);
        Assert.Contains("\u30DE", Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(client.Username)));
    }
}
