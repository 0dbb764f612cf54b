using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;

namespace Relay.Core.Tests.Server;

public class RefreshTests
{
    private readonly TestRelay _relay = new();

    [Fact]
    public void Refresh_replaces_the_expiry_rather_than_extending_it()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate(spec => spec.Lifetime(3600));
        _relay.Advance(TimeSpan.FromSeconds(100));
        var response = client.Refresh(700);
        Assert.True(response.IsSuccess);
        Assert.Equal(700u, response.GetUInt32(StunAttr.Lifetime));
        Assert.True(response.VerifyIntegrity(client.Key));

        // The shorter lifetime is honoured even though the first one was longer.
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(699));
        Assert.Equal(1, _relay.Server.AllocationCount);
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromSeconds(1));
        Assert.Equal(0, _relay.Server.AllocationCount);
    }

    [Fact]
    public void Refresh_without_lifetime_uses_the_default_and_small_values_are_raised_to_it()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.Equal(600u, client.Refresh().GetUInt32(StunAttr.Lifetime));
        Assert.Equal(600u, client.Refresh(30).GetUInt32(StunAttr.Lifetime));
        Assert.Equal(3600u, client.Refresh(99999).GetUInt32(StunAttr.Lifetime));
    }

    [Fact]
    public void Refresh_with_lifetime_zero_deletes_the_allocation_and_its_channels_first()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate());
        client.ChannelBind(0x4000, "192.0.2.10:5000");
        _relay.Drain();

        client.Challenge(); // fresh nonce, then the delete
        _relay.Server.HandleClientInput(client.Sign(new MessageSpec(StunMethod.Refresh).Lifetime(0)), client.Socket, _relay.Now);
        var commands = _relay.Drain();
        Assert.IsType<RemoveChannelBinding>(commands[0]);
        Assert.Equal(new FreeAllocation(port, IpFamily.V4), commands[1]);
        var response = Msg.Parse(Assert.IsType<SendToClient>(commands[2]).Payload);
        Assert.True(response.IsSuccess);
        Assert.Equal(0u, response.GetUInt32(StunAttr.Lifetime));
        Assert.Equal(0, _relay.Server.AllocationCount);
        Assert.Equal(0, _relay.Server.BoundChannelCount);
        Assert.Contains(_relay.Events, e => e is AllocationDeleted { Reason: DeletionReason.RefreshedToZero });

        // No stale timer fires for it afterwards.
        _relay.AdvanceTo(_relay.Now + TimeSpan.FromHours(2));
        Assert.Empty(_relay.Drain());
        Assert.Equal(437, client.Refresh(0).ErrorCode); // what a client sees for a retransmitted delete
    }

    [Fact]
    public void Refresh_without_an_allocation_is_437()
    {
        var client = _relay.Client("198.51.100.7:40000");
        var response = client.Refresh();
        Assert.Equal(437, response.ErrorCode);
        Assert.True(response.VerifyIntegrity(client.Key)); // authenticated before the 437
    }

    [Fact]
    public void Refresh_by_another_user_of_the_same_5_tuple_is_441()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(scheme: AuthScheme.TurnRest));
        var owner = relay.Client("198.51.100.7:40000", salt: "alice");
        owner.Allocate();
        var intruder = relay.Client("198.51.100.7:40000", salt: "mallory");
        Assert.Equal(441, intruder.Refresh().ErrorCode);
        Assert.Equal(441, intruder.ChannelBind(0x4000, "192.0.2.1:1").ErrorCode);
        Assert.Equal(441, intruder.CreatePermission("192.0.2.1:1").ErrorCode);
        Assert.Equal(1, relay.Server.AllocationCount);
    }

    [Fact]
    public void Refresh_naming_a_family_the_allocation_lacks_is_443()
    {
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate();
        Assert.Equal(443, client.Request(new MessageSpec(StunMethod.Refresh).Family(StunAttr.RequestedAddressFamily, IpFamily.V6)).ErrorCode);
        Assert.True(client.Request(new MessageSpec(StunMethod.Refresh).Family(StunAttr.RequestedAddressFamily, IpFamily.V4)).IsSuccess);
    }

    [Fact]
    public void Refresh_of_a_dual_allocation_refreshes_both_and_deletion_frees_both()
    {
        var relay = new TestRelay(TestRelay.DefaultOptions(v6: true));
        var client = relay.Client("198.51.100.7:40000");
        var port = client.AllocatedPort(client.Allocate(spec => spec.Family(StunAttr.AdditionalAddressFamily, IpFamily.V6)));
        relay.Drain();
        Assert.True(client.Refresh(0).IsSuccess);
        var frees = relay.History.OfType<FreeAllocation>().ToList();
        Assert.Equal([new FreeAllocation(port, IpFamily.V4), new FreeAllocation(port, IpFamily.V6)], frees);
    }

    [Fact]
    public void Deleted_allocations_do_not_pile_up_in_the_timer_heap()
    {
        var client = _relay.Client("198.51.100.7:40000");
        for (int i = 0; i < 3000; i++)
        {
            client.Allocate(spec => spec.Lifetime(3600));
            client.CreatePermission("192.0.2.10:1");
            client.ChannelBind(0x4000, "192.0.2.10:5000");
            Assert.True(client.Refresh(0).IsSuccess);
            _relay.Drain();
        }

        // Every allocation, permission and channel above is gone; their heap entries must not keep them alive.
        Assert.InRange(_relay.Server.TimerEntries, 0, 600);
        Assert.Empty(_relay.Server.FindInconsistencies());
    }

    [Fact]
    public void Poll_timeout_tracks_the_earliest_deadline()
    {
        Assert.Null(_relay.Server.PollTimeout());
        var client = _relay.Client("198.51.100.7:40000");
        client.Allocate(spec => spec.Lifetime(1200));
        Assert.Equal(_relay.Now + TimeSpan.FromSeconds(1200), _relay.Server.PollTimeout());
        client.CreatePermission("192.0.2.10:1");
        Assert.Equal(_relay.Now + TimeSpan.FromSeconds(300), _relay.Server.PollTimeout());
    }
}
