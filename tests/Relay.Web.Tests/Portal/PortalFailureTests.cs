using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Relay.Core.Net;
using Relay.TestSupport;
using Relay.Web.Portal;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Portal;

/// <summary>How the portal client gives up: fatal refusals exit at once, unreachable portals after their budget.</summary>
public sealed class PortalFailureTests
{
    private const int FatalExit = 3;

    [Fact]
    public async Task A_join_error_is_a_fatal_login_failure()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { Join = JoinReply.Error, JoinErrorReason = "invalid_version" };
        await using var relay = PortalRelay.Start(portal);

        await relay.WaitForExitAsync();
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("refused the relay's join (invalid_version)", relay.Runtime.ExitReason);
        Assert.Equal(PortalState.Disconnected, relay.Status.State);
        Assert.Null(relay.Status.LastJoinedAt);
        Assert.Equal(1, portal.RequestCount);
    }

    [Fact]
    public async Task Http_401_on_the_upgrade_is_fatal_and_blames_the_token_without_printing_it()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { RejectStatus = 401, RetryAfter = "1" };
        await using var relay = PortalRelay.Start(portal);

        await relay.WaitForExitAsync();
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("FIREZONE_TOKEN", relay.Runtime.ExitReason);
        Assert.Contains("401", relay.Runtime.ExitReason);
        Assert.DoesNotContain(PortalRelay.Token, relay.Runtime.ExitReason);
        Assert.DoesNotContain(PortalRelay.Token, relay.Logs.All);
        Assert.Contains("FIREZONE_TOKEN", relay.Logs.All);
        Assert.Equal(1, portal.RequestCount); // no retry, Retry-After or not
    }

    [Fact]
    public async Task A_token_expired_disconnect_is_fatal()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var connection = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        await connection.PushAsync("relay", "disconnect", """{"reason":"token_expired"}""");
        await relay.WaitForExitAsync();
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("token_expired", relay.Runtime.ExitReason);
        Assert.Contains("FIREZONE_TOKEN", relay.Runtime.ExitReason);
        Assert.False(relay.Runtime.PortalJoined);
        Assert.Equal(PortalState.Disconnected, relay.Status.State);
    }

    [Fact]
    public async Task A_join_reply_later_than_5_s_makes_the_relay_reconnect()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.Enqueue(new PortalPlan { Join = JoinReply.Never });
        await using var relay = PortalRelay.Start(portal);
        var slow = await portal.NextJoinedConnectionAsync(); // join sent, never answered

        relay.Time.Advance(TimeSpan.FromMilliseconds(4999));
        await Task.Delay(50);
        Assert.False(slow.Closed.IsCompleted);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await relay.ReadyzAsync());

        relay.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("close 1000 NormalClosure", await slow.Closed.WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Equal(TimeSpan.FromSeconds(1), await relay.NextRetryDelayAsync()); // still starting up: 1 s steps
        Assert.Contains("did not answer the join", relay.Status.LastError);

        await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(HttpStatusCode.OK, await relay.ReadyzAsync());
        Assert.Equal(0, relay.Runtime.ExitCode);
    }

    [Fact]
    public async Task A_portal_that_never_answers_the_upgrade_stops_the_relay_after_15_s()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { HangUpgrade = true };
        await using var relay = PortalRelay.Start(portal);
        await portal.NextRequestAsync();

        relay.Time.Advance(TimeSpan.FromSeconds(14.9));
        await Task.Delay(50);
        Assert.Equal(0, relay.Runtime.ExitCode);
        Assert.Equal(PortalState.Connecting, relay.Status.State);

        relay.Time.Advance(TimeSpan.FromSeconds(0.1));
        await relay.WaitForExitAsync();
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("within 15 s", relay.Runtime.ExitReason);
        Assert.Equal(1, portal.RequestCount);
    }

    [Fact]
    public async Task Join_timeouts_before_the_first_join_end_at_the_15_s_start_up_deadline()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { Join = JoinReply.Never };
        await using var relay = PortalRelay.Start(portal);
        DateTimeOffset start = relay.Time.GetUtcNow();

        // Join at 0 s and at 6 s time out after 5 s each; the join at 12 s gets only the 3 s left.
        foreach (var joinWait in new[] { 5.0, 5.0, 3.0 })
        {
            var connection = await portal.NextJoinedConnectionAsync();
            relay.Time.Advance(TimeSpan.FromSeconds(joinWait) - TimeSpan.FromMilliseconds(1));
            await Task.Delay(50);
            Assert.False(connection.Closed.IsCompleted);
            relay.Time.Advance(TimeSpan.FromMilliseconds(1));
            await connection.Closed.WaitAsync(TimeSpan.FromSeconds(3));
            if (joinWait == 5.0)
            {
                Assert.Equal(TimeSpan.FromSeconds(1), await relay.NextRetryDelayAsync());
            }
        }

        await relay.WaitForExitAsync();
        Assert.Equal(TimeSpan.FromSeconds(15), relay.Time.GetUtcNow() - start);
        Assert.Equal(3, portal.RequestCount);
        Assert.Contains("did not answer the join", relay.Runtime.ExitReason);
    }

    [Fact]
    public async Task A_refusing_portal_is_retried_every_second_until_15_s_then_the_relay_exits()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { RejectStatus = 503 };
        await using var relay = PortalRelay.Start(portal);
        DateTimeOffset start = relay.Time.GetUtcNow();

        var delays = new List<TimeSpan>();
        while (true)
        {
            await PortalRelay.WaitUntilAsync(() => relay.Status.NextAttemptAt > relay.Time.GetUtcNow() || relay.Runtime.ExitCode != 0, "a retry or the exit");
            if (relay.Runtime.ExitCode != 0)
            {
                break;
            }

            delays.Add(await relay.NextRetryDelayAsync());
        }

        await relay.WaitForExitAsync();
        Assert.All(delays, d => Assert.Equal(TimeSpan.FromSeconds(1), d));
        Assert.Equal(15, portal.RequestCount); // attempts at 0 s … 14 s
        Assert.Equal(TimeSpan.FromSeconds(14), relay.Time.GetUtcNow() - start);
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("HTTP 503", relay.Runtime.ExitReason);
    }

    [Fact]
    public async Task Retry_after_from_the_portal_replaces_the_backoff()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.Enqueue(new PortalPlan { RejectStatus = 429, RetryAfter = "5" });
        await using var relay = PortalRelay.Start(portal);
        await portal.NextRequestAsync();

        Assert.Equal(TimeSpan.FromSeconds(5), await relay.NextRetryDelayAsync(advance: false));
        relay.Time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.True(await portal.NoConnectionWithinAsync(TimeSpan.FromMilliseconds(100)));
        Assert.Equal(1, portal.RequestCount);

        relay.Time.Advance(TimeSpan.FromSeconds(0.1));
        await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
    }

    [Fact]
    public async Task After_a_join_the_relay_keeps_relaying_and_retrying_for_24_h_then_exits()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var connection = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        using var client = new UdpTurnClient(relay.ListenV4, user: "long-outage");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.CreatePermissionAsync(peer.EndPoint);

        portal.DefaultPlan = new PortalPlan { RejectStatus = 503, RetryAfter = "7200" };
        DateTimeOffset lost = relay.Time.GetUtcNow();
        connection.Drop();
        TimeSpan backoff = await relay.NextRetryDelayAsync(advance: false);

        // The allocation still relays while the portal is away.
        await peer.SendAsync([4, 2], relayed);
        Assert.NotEmpty(await client.ReceiveAsync());
        relay.Time.Advance(backoff); // from here on the portal answers 503 with Retry-After: 7200

        int attempts = 0;
        while (relay.Runtime.ExitCode == 0)
        {
            await PortalRelay.WaitUntilAsync(() => relay.Status.NextAttemptAt > relay.Time.GetUtcNow() || relay.Runtime.ExitCode != 0, "a retry or the exit");
            if (relay.Runtime.ExitCode == 0)
            {
                Assert.Equal(TimeSpan.FromHours(2), await relay.NextRetryDelayAsync());
                attempts++;
            }
        }

        await relay.WaitForExitAsync();
        TimeSpan outage = relay.Time.GetUtcNow() - lost;
        Assert.Equal(TimeSpan.FromHours(22) + backoff, outage); // the attempt due 24 h after the loss is outside the budget
        Assert.Equal(11, attempts);
        Assert.Equal(13, portal.RequestCount); // the first connection, then 12 refused attempts
        Assert.Equal(FatalExit, relay.Runtime.ExitCode);
        Assert.Contains("24 h", relay.Runtime.ExitReason);
    }

    [Fact]
    public async Task A_standalone_relay_reports_the_portal_as_disabled()
    {
        await using var relay = new RelayFactory();
        var status = relay.Services.GetRequiredService<PortalStatus>().Snapshot();
        Assert.False(status.Enabled);
        Assert.Equal(PortalState.Disconnected, status.State);
        Assert.Null(status.Url);
        Assert.False(relay.Runtime.PortalJoined);
    }
}
