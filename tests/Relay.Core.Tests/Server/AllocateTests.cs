using System.Buffers.Binary;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Server;

public class AllocateTests
{
    private readonly TestRelay _relay = new();

    [Fact]
    public void Allocate_binds_a_random_port_then_answers_with_relayed_mapped_and_lifetime()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        _relay.Server.HandleClientInput(client.Sign(TestClient.AllocateSpec()), client.Socket, _relay.Now);
        var commands = _relay.Drain();

        Assert.Equal(2, commands.Count);
        var create = Assert.IsType<CreateAllocation>(commands[0]);
        var send = Assert.IsType<SendToClient>(commands[1]);
        Assert.Equal(IpFamily.V4, create.Family);
        Assert.False(create.DontFragment);
        Assert.InRange(create.Port.Value, 49152, 65535);
        Assert.Equal(StunMethod.Allocate, send.Method);
        Assert.Equal(0, send.ErrorCode);

        var response = Msg.Parse(send.Payload);
        Assert.Equal(new TransportAddress(IpAddr.Parse("203.0.113.1"), create.Port.Value), response.GetXorAddress(StunAttr.XorRelayedAddress));
        Assert.Equal(client.Socket.Address, response.GetXorAddress(StunAttr.XorMappedAddress));
        Assert.Equal(600u, response.GetUInt32(StunAttr.Lifetime));
        Assert.True(response.VerifyIntegrity(client.Key));
        Assert.Contains(_relay.Events, e => e is AllocationCreated { V4: true, V6: false });
    }

    [Fact]
    public void Ports_are_random_and_distinct()
    {
        var ports = new HashSet<ushort>();
        for (int i = 0; i < 50; i++)
        {
            var client = _relay.Client($"198.51.100.7:{40000 + i}", salt: $"user{i}");
            ports.Add(client.AllocatedPort(client.Allocate()).Value);
        }

        Assert.Equal(50, ports.Count);
        Assert.True(ports.Max() - ports.Min() > 1000, "ports should spread over the range");
    }

    [Fact]
    public void A_retransmitted_allocate_gets_the_same_success_and_a_new_transaction_gets_437()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        byte[] request = client.Sign(TestClient.AllocateSpec());
        var first = _relay.Exchange(client.Socket, request);
        var again = _relay.Exchange(client.Socket, request);
        Assert.Equal(first.Raw, again.Raw);
        Assert.Single(_relay.History.OfType<CreateAllocation>());

        var other = client.Request(TestClient.AllocateSpec());
        Assert.Equal(437, other.ErrorCode);
        Assert.True(other.VerifyIntegrity(client.Key));
    }

    [Fact]
    public void Missing_requested_transport_is_400_and_tcp_is_442()
    {
        var client = _relay.Client("198.51.100.7:40000");
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.Allocate)).ErrorCode);
        Assert.Equal(400, client.Request(new MessageSpec(StunMethod.Allocate).Add(StunAttr.RequestedTransport, [17])).ErrorCode);
        Assert.Equal(442, client.Request(new MessageSpec(StunMethod.Allocate).RequestedTransport(6)).ErrorCode);
    }

    public static TheoryData<bool, bool, int?, int?, int, bool, bool, int?> FamilyCases => new()
    {
        // relay v4, relay v6, REQUESTED-ADDRESS-FAMILY, ADDITIONAL-ADDRESS-FAMILY → code, granted v4, v6, ADDRESS-ERROR-CODE family
        { true, false, null, null, 0, true, false, null },
        { true, false, 1, null, 0, true, false, null },
        { true, true, null, null, 0, true, false, null },
        { false, true, 2, null, 0, false, true, null },
        { true, true, 2, null, 0, false, true, null },
        { true, true, null, 2, 0, true, true, null },
        { true, false, null, 2, 0, true, false, 2 },
        { false, true, null, 2, 0, false, true, 1 },
        { true, true, 1, 2, 400, false, false, null },
        { true, true, null, 1, 400, false, false, null },
        { false, true, null, null, 440, false, false, null },
        { false, true, 1, null, 440, false, false, null },
        { true, false, 2, null, 440, false, false, null },
        { true, true, 3, null, 440, false, false, null },
    };

    [Theory]
    [MemberData(nameof(FamilyCases))]
    public void Address_families_follow_rfc8656_and_the_reference_table(bool relayV4, bool relayV6, int? requested, int? additional,
        int code, bool grantV4, bool grantV6, int? addressErrorFamily)
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v4: relayV4, v6: relayV6));
        var client = relay.Client("198.51.100.7:40000");
        var spec = TestClient.AllocateSpec();
        if (requested is { } r)
        {
            spec.Family(StunAttr.RequestedAddressFamily, (IpFamily)r);
        }

        if (additional is { } a)
        {
            spec.Family(StunAttr.AdditionalAddressFamily, (IpFamily)a);
        }

        var response = client.Request(spec);
        Assert.Equal(code, response.ErrorCode);
        var relayed = response.GetXorAddresses(StunAttr.XorRelayedAddress).ToList();
        Assert.Equal(grantV4, relayed.Any(x => x.Family == IpFamily.V4));
        Assert.Equal(grantV6, relayed.Any(x => x.Family == IpFamily.V6));
        if (relayed.Count == 2)
        {
            Assert.Equal(relayed[0].Port, relayed[1].Port); // the same port number on both families
        }

        byte[]? addressError = response.Get(StunAttr.AddressErrorCode);
        Assert.Equal(addressErrorFamily, addressError is null ? null : addressError[0]);
        if (addressError is not null)
        {
            Assert.Equal(440, addressError[2] * 100 + addressError[3]);
        }

        var creates = relay.History.OfType<CreateAllocation>().ToList();
        Assert.Equal((grantV4 ? 1 : 0) + (grantV6 ? 1 : 0), creates.Count);
    }

    [Theory]
    [InlineData(null, 600u)]
    [InlineData(777u, 777u)]
    [InlineData(3600u, 3600u)]
    [InlineData(10_000_000u, 3600u)]
    [InlineData(100u, 600u)]
    [InlineData(0u, 600u)]
    public void Lifetime_is_min_of_requested_and_maximum_but_never_below_the_default(uint? requested, uint expected)
    {
        var client = _relay.Client("198.51.100.7:40000");
        var response = client.Allocate(spec =>
        {
            if (requested is { } value)
            {
                spec.Lifetime(value);
            }
        });
        Assert.Equal(expected, response.GetUInt32(StunAttr.Lifetime));
        Assert.Equal(_relay.Now + TimeSpan.FromSeconds(expected), _relay.Server.PollTimeout());
    }

    [Fact]
    public void An_allocation_expires_at_its_lifetime_and_frees_its_port()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        _relay.Drain();
        _relay.Advance(TimeSpan.FromSeconds(599));
        Assert.Empty(_relay.Drain());
        _relay.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([new FreeAllocation(port, IpFamily.V4)], _relay.Drain());
        Assert.Equal(0, _relay.Server.AllocationCount);
        Assert.Contains(_relay.Events, e => e is AllocationDeleted { Reason: DeletionReason.Expired });
        Assert.Equal(437, client.Refresh().ErrorCode);
    }

    [Fact]
    public void Dont_fragment_is_passed_to_the_host()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate(spec => spec.Add(StunAttr.DontFragment, []));
        Assert.True(_relay.History.OfType<CreateAllocation>().Single().DontFragment);
    }

    [Fact]
    public void Even_port_gives_an_even_port()
    {
        for (int i = 0; i < 20; i++)
        {
            var client = _relay.Client($"198.51.100.7:{40000 + i}", salt: $"u{i}");
            var response = client.Allocate(spec => spec.Add(StunAttr.EvenPort, [0x00]));
            Assert.Equal(0, client.AllocatedPort(response).Value % 2);
            Assert.False(response.Has(StunAttr.ReservationToken));
        }
    }

    [Fact]
    public void Even_port_with_r_bit_reserves_the_next_port_for_a_token()
    {
        var first = _relay.Client("198.51.100.7:40000");
        var response = first.Allocate(spec => spec.Add(StunAttr.EvenPort, [0x80]));
        ushort port = first.AllocatedPort(response).Value;
        Assert.Equal(0, port % 2);
        byte[] token = response.Get(StunAttr.ReservationToken)!;
        Assert.Equal(8, token.Length);

        // The odd port is not handed to anyone else...
        for (int i = 0; i < 30; i++)
        {
            var other = _relay.Client($"198.51.100.9:{40000 + i}", salt: $"o{i}");
            Assert.NotEqual(port + 1, other.AllocatedPort(other.Allocate()).Value);
        }

        // ...but to the holder of the token.
        var second = _relay.Client("198.51.100.8:40000", salt: "second");
        var rtcp = second.Allocate(spec => spec.Add(StunAttr.ReservationToken, token));
        Assert.Equal(port + 1, second.AllocatedPort(rtcp).Value);

        // A token is good once.
        var third = _relay.Client("198.51.100.8:40001", salt: "third");
        Assert.Equal(508, third.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, token)).ErrorCode);
    }

    [Fact]
    public void A_reservation_lapses_after_30_seconds()
    {
        var first = _relay.Client("198.51.100.7:40000");
        byte[] token = first.Allocate(spec => spec.Add(StunAttr.EvenPort, [0x80])).Get(StunAttr.ReservationToken)!;
        _relay.Advance(TimeSpan.FromSeconds(30));
        var second = _relay.Client("198.51.100.8:40000", salt: "second");
        Assert.Equal(508, second.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, token)).ErrorCode);
    }

    [Fact]
    public void Reservation_token_with_even_port_or_families_is_400_and_an_unknown_token_is_508()
    {
        var client = _relay.Client("198.51.100.7:40000");
        byte[] token = [1, 2, 3, 4, 5, 6, 7, 8];
        Assert.Equal(400, client.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, token).Add(StunAttr.EvenPort, [0])).ErrorCode);
        Assert.Equal(400, client.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, token).Family(StunAttr.RequestedAddressFamily, IpFamily.V4)).ErrorCode);
        Assert.Equal(400, client.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, [1, 2, 3])).ErrorCode);
        Assert.Equal(508, client.Request(TestClient.AllocateSpec().Add(StunAttr.ReservationToken, token)).ErrorCode);
        Assert.Equal(400, client.Request(TestClient.AllocateSpec().Add(StunAttr.EvenPort, [0x80]).Family(StunAttr.AdditionalAddressFamily, IpFamily.V6)).ErrorCode);
    }

    [Fact]
    public void Firezone_allows_one_allocation_per_username_and_the_newest_wins()
    {
        var before = _relay.Client("198.51.100.7:40000");
        var oldPort = before.AllocatedPort(before.Allocate());
        _relay.Drain();

        // Same credentials from a new source port (a NAT flipped it).
        var after = _relay.Client("198.51.100.7:40001");
        after.Allocate();
        var commands = _relay.History.Skip(_relay.History.FindIndex(c => c is FreeAllocation)).ToList();
        Assert.Equal(new FreeAllocation(oldPort, IpFamily.V4), commands[0]);
        Assert.IsType<CreateAllocation>(commands[1]);
        Assert.Equal(1, _relay.Server.AllocationCount);
        Assert.Contains(_relay.Events, e => e is AllocationDeleted { Reason: DeletionReason.ReplacedBySameUser });
        Assert.Equal(437, before.Refresh().ErrorCode);
    }

    [Fact]
    public void Turn_rest_users_may_hold_several_allocations_up_to_the_quota()
    {
        var options = TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest, perUser: 3);
        var relay = new TestRelay(options);
        for (int i = 0; i < 3; i++)
        {
            relay.Client($"198.51.100.7:{40000 + i}", salt: "alice").Allocate();
        }

        var fourth = relay.Client("198.51.100.7:40003", salt: "alice");
        var refused = fourth.Request(TestClient.AllocateSpec());
        Assert.Equal(486, refused.ErrorCode);
        Assert.True(refused.VerifyIntegrity(fourth.Key));

        // The quota counts the user, not the username: a later expiry is the same user.
        var sameUserLater = relay.Client("198.51.100.7:40004", salt: "alice", expiry: relay.Now.UnixSeconds + 7200);
        Assert.Equal(486, sameUserLater.Request(TestClient.AllocateSpec()).ErrorCode);
        Assert.True(relay.Client("198.51.100.7:40005", salt: "bob").Request(TestClient.AllocateSpec()).IsSuccess);

        // Freeing one makes room.
        relay.Client("198.51.100.7:40000", salt: "alice").Refresh(0);
        Assert.True(fourth.Request(TestClient.AllocateSpec()).IsSuccess);
    }

    [Fact]
    public void The_total_allocation_cap_answers_508_but_lets_a_firezone_user_replace_their_own()
    {
        var defaults = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions { PublicIPv4 = defaults.PublicIPv4, RelaySecret = TestRelay.Secret, Peers = defaults.Peers, MaxAllocations = 2 });
        relay.Client("198.51.100.7:40000", salt: "a").Allocate();
        relay.Client("198.51.100.7:40001", salt: "b").Allocate();

        var third = relay.Client("198.51.100.7:40002", salt: "c");
        var refused = third.Request(TestClient.AllocateSpec());
        Assert.Equal(508, refused.ErrorCode);
        Assert.True(refused.VerifyIntegrity(third.Key));

        // "a" from a new source port replaces its old allocation: the count does not grow.
        Assert.True(relay.Client("198.51.100.7:40003", salt: "a").Request(TestClient.AllocateSpec()).IsSuccess);
        Assert.Equal(2, relay.Server.AllocationCount);
    }

    [Fact]
    public void While_draining_new_allocates_get_508_or_300_and_existing_allocations_keep_working()
    {
        var existing = _relay.Client("198.51.100.7:40000", salt: "staying");
        existing.Allocate();
        _relay.Server.BeginDrain(null);

        var late = _relay.Client("198.51.100.7:40001", salt: "late");
        var refused = late.Request(TestClient.AllocateSpec());
        Assert.Equal(508, refused.ErrorCode);
        Assert.True(refused.VerifyIntegrity(late.Key));
        Assert.True(existing.Refresh().IsSuccess);
        Assert.True(existing.ChannelBind(0x4000, "192.0.2.10:5000").IsSuccess);

        _relay.Server.BeginDrain(TransportAddress.Parse("192.0.2.99:3478"));
        var redirected = late.Request(TestClient.AllocateSpec());
        Assert.Equal(300, redirected.ErrorCode);
        Assert.Equal(new byte[] { 0, 1, 0x0D, 0x96, 192, 0, 2, 99 }, redirected.Get(StunAttr.AlternateServer));
        Assert.Equal(1, _relay.Server.AllocationCount);
    }

    [Fact]
    public void An_exhausted_port_range_answers_508()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(lowest: 50000, highest: 50002));
        for (int i = 0; i < 3; i++)
        {
            relay.Client($"198.51.100.7:{40000 + i}", salt: $"u{i}").Allocate();
        }

        var late = relay.Client("198.51.100.7:40010", salt: "late");
        Assert.Equal(508, late.Request(TestClient.AllocateSpec()).ErrorCode);
        Assert.Contains(relay.Events, e => e is PortsExhausted);
        Assert.Equal(3, relay.BoundSockets.Count);
    }

    [Fact]
    public void The_listening_port_is_never_handed_out_when_it_lies_in_the_range()
    {
        var defaults = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions
        {
            PublicIPv4 = defaults.PublicIPv4, RelaySecret = TestRelay.Secret, LowestPort = 50000, HighestPort = 50002, ListenPort = 50001,
            Peers = defaults.Peers,
        });
        var ports = Enumerable.Range(0, 2).Select(i => relay.Client($"198.51.100.7:{40000 + i}", salt: $"u{i}")).Select(c => c.AllocatedPort(c.Allocate()).Value).ToList();
        Assert.DoesNotContain((ushort)50001, ports);
        Assert.Equal(508, relay.Client("198.51.100.7:40009", salt: "late").Request(TestClient.AllocateSpec()).ErrorCode);
    }

    [Fact]
    public void A_bind_failure_moves_the_allocation_to_another_port_before_the_client_hears_of_it()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Challenge();
        byte[] request = client.Sign(TestClient.AllocateSpec());

        // Peek at the port the engine picks by running a twin with the same seed.
        var twin = new TestRelay();
        var twinClient = twin.Client("198.51.100.7:40000");
        twinClient.Nonce = client.Nonce;
        _ = twin.Exchange(twinClient.Socket, request);
        ushort doomed = twin.History.OfType<CreateAllocation>().Single().Port.Value;

        _relay.FailBinds.Add((doomed, IpFamily.V4));
        var response = _relay.Exchange(client.Socket, request);
        Assert.True(response.IsSuccess);
        ushort granted = client.AllocatedPort(response).Value;
        Assert.NotEqual(doomed, granted);
        Assert.Equal([doomed, granted], _relay.History.OfType<CreateAllocation>().Select(c => c.Port.Value));
        Assert.Contains(_relay.Events, e => e is AllocationPortBindFailed { Retried: true });
        Assert.Equal([(granted, IpFamily.V4)], _relay.BoundSockets);
    }

    [Fact]
    public void A_dual_allocation_whose_second_bind_fails_frees_the_first_and_moves()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        client.Challenge();
        byte[] request = client.Sign(TestClient.AllocateSpec().Family(StunAttr.AdditionalAddressFamily, IpFamily.V6));

        relay.Server.HandleClientInput(request, client.Socket, relay.Now);
        var first = (CreateAllocation)relay.Server.PollCommand()!; // v4 binds fine
        relay.BoundSockets.Add((first.Port.Value, IpFamily.V4));
        var second = (CreateAllocation)relay.Server.PollCommand()!;
        Assert.Equal(IpFamily.V6, second.Family);
        relay.Server.AllocationBindFailed(second.Port, IpFamily.V6, relay.Now);

        var rest = relay.Drain();
        Assert.Equal(new FreeAllocation(first.Port, IpFamily.V4), rest[0]);
        var sends = rest.OfType<SendToClient>().ToList();
        var response = Msg.Parse(Assert.Single(sends).Payload);
        Assert.True(response.IsSuccess);
        Assert.All(response.GetXorAddresses(StunAttr.XorRelayedAddress), a => Assert.NotEqual(first.Port.Value, a.Port));
        Assert.Equal(2, relay.BoundSockets.Count);
    }

    [Fact]
    public void Repeated_bind_failures_end_in_508_and_no_allocation()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(lowest: 50000, highest: 50003));
        for (ushort p = 50000; p <= 50003; p++)
        {
            relay.FailBinds.Add((p, IpFamily.V4));
        }

        var client = relay.Client("198.51.100.7:40000");
        var response = client.Request(TestClient.AllocateSpec());
        Assert.Equal(508, response.ErrorCode);
        Assert.True(response.VerifyIntegrity(client.Key));
        Assert.Equal(0, relay.Server.AllocationCount);
        Assert.Empty(relay.BoundSockets);
    }

    [Fact]
    public void A_bind_failure_reported_after_the_response_deletes_the_allocation()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        _relay.Server.AllocationBindFailed(port, IpFamily.V4, _relay.Now);
        _relay.Drain();
        Assert.Equal(0, _relay.Server.AllocationCount);
        Assert.Equal(437, client.Refresh().ErrorCode);
    }

    [Fact]
    public void A_failed_port_is_not_picked_again_during_its_quarantine()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(lowest: 50000, highest: 50001));
        relay.FailBinds.Add((50000, IpFamily.V4));
        relay.FailBinds.Add((50001, IpFamily.V4));
        var a = relay.Client("198.51.100.7:40000", salt: "a");
        Assert.Equal(508, a.Request(TestClient.AllocateSpec()).ErrorCode);
        var b = relay.Client("198.51.100.7:40001", salt: "b");
        Assert.Equal(508, b.Request(TestClient.AllocateSpec()).ErrorCode); // both quarantined
        relay.Advance(TimeSpan.FromSeconds(61));
        Assert.True(b.Request(TestClient.AllocateSpec()).IsSuccess);
    }

    [Fact]
    public void Eviction_removes_channels_then_frees_and_the_client_gets_437()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        Assert.True(client.ChannelBind(0x4000, "192.0.2.10:5000").IsSuccess);
        Assert.True(client.ChannelBind(0x4001, "192.0.2.11:5000").IsSuccess);
        _relay.Drain();

        var id = _relay.Server.SnapshotAllocations().Single().Id;
        Assert.True(_relay.Server.EvictAllocation(id));
        var commands = _relay.Drain();
        Assert.Equal(3, commands.Count);
        Assert.All(commands.Take(2), c => Assert.IsType<RemoveChannelBinding>(c));
        Assert.Equal(new FreeAllocation(port, IpFamily.V4), commands[2]);
        Assert.Empty(_relay.FastPath);
        Assert.False(_relay.Server.EvictAllocation(id));
        Assert.Equal(437, client.Refresh().ErrorCode);
    }

    [Fact]
    public void Evicting_a_user_removes_all_of_their_allocations()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest));
        var a = relay.Client("198.51.100.7:40000", salt: "alice");
        a.Allocate();
        relay.Client("198.51.100.7:40001", salt: "alice").Allocate();
        relay.Client("198.51.100.7:40002", salt: "bob").Allocate();
        Assert.Equal(2, relay.Server.EvictUser(a.Username));
        Assert.Equal(1, relay.Server.AllocationCount);
    }

    [Fact]
    public void Snapshot_reports_addresses_times_and_traffic()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate(spec => spec.Lifetime(1200)));
        client.ChannelBind(0x4000, "192.0.2.10:5000");
        client.SendChannelData(0x4000, new byte[100]);
        _relay.FromPeer(PeerSocket.Parse("192.0.2.10:5000"), port, new byte[40]);

        var snapshot = _relay.Server.SnapshotAllocations().Single();
        Assert.Equal(client.Socket, snapshot.Client);
        Assert.Equal(client.Username, snapshot.Username);
        Assert.Equal([new TransportAddress(IpAddr.Parse("203.0.113.1"), port.Value)], snapshot.RelayedAddresses);
        Assert.Equal(_relay.Now + TimeSpan.FromSeconds(1200), snapshot.ExpiresAt);
        Assert.Equal((1, 100, 1, 40), (snapshot.PacketsFromClient, snapshot.BytesFromClient, snapshot.PacketsToClient, snapshot.BytesToClient));
        Assert.Single(snapshot.Channels);
        Assert.Single(snapshot.Permissions);
        Assert.Equal(snapshot.Id, _relay.Server.SnapshotAllocation(snapshot.Id)!.Id);
        Assert.Null(_relay.Server.SnapshotAllocation(new AllocationId(999)));
    }

    [Fact]
    public void Reservation_token_bytes_are_big_endian_of_the_token()
    {
        var client = _relay.Client("198.51.100.7:40000");
        byte[] token = client.Allocate(spec => spec.Add(StunAttr.EvenPort, [0x80])).Get(StunAttr.ReservationToken)!;
        Assert.NotEqual(0UL, BinaryPrimitives.ReadUInt64BigEndian(token));
    }
}
