using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using Relay.Core.Net;
using Relay.TestSupport;
using Relay.Web.Portal;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Portal;

/// <summary>The hosted portal client against an in-process fake portal: joining, heartbeats and reconnecting.</summary>
public sealed class PortalConnectionTests
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_relay_joins_with_its_address_token_and_secret_and_becomes_ready()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.DefaultPlan = new PortalPlan { Join = JoinReply.Never };
        await using var relay = PortalRelay.Start(portal, new() { ["token"] = $" {PortalRelay.Token[..6]}\n{PortalRelay.Token[6..]} ", ["name"] = "relay one" });

        var connection = await portal.NextConnectionAsync();
        var request = connection.Request;
        Assert.Equal("/relay/websocket", request.Path);
        Assert.Equal("Bearer " + PortalRelay.Token, request.Headers["X-Authorization"]); // whitespace stripped
        Assert.Matches(@"^\S.*/\S+ relay/\S+ \(.+; .+\)$", request.Headers["User-Agent"]);
        Assert.Equal("relay one", request.Query["name"]);
        Assert.Equal("127.0.0.1", request.Query["ipv4"]);
        Assert.Equal("::1", request.Query["ipv6"]);
        Assert.Equal(relay.Runtime.ListenPort.ToString(), request.Query["port"]);
        Assert.DoesNotContain("token", request.Query.Keys);

        var join = await connection.NextFrameAsync();
        Assert.Equal(("relay", "phx_join", 0UL), (join.Topic, join.Event, join.RefNumber));
        Assert.Equal(RelayFactory.Secret, join.Payload.GetProperty("stamp_secret").GetString());
        Assert.Equal(RelayFactory.Secret, relay.Runtime.Secret);

        // Not joined until the portal answers.
        Assert.Equal(PortalState.Connecting, relay.Status.State);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await relay.ReadyzAsync());

        await connection.ReplyAsync(join, "ok");
        await connection.PushAsync("relay", "init", "{}");
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(HttpStatusCode.OK, await relay.ReadyzAsync());
        Assert.True(relay.Runtime.PortalJoined);
        var status = relay.Status.Snapshot();
        Assert.True(status.Enabled);
        Assert.Equal(relay.Time.GetUtcNow(), status.LastJoinedAt);
        Assert.Equal((1L, 0L), (status.JoinCount, status.ReconnectCount));
        Assert.Equal($"{portal.ApiUrl.AbsoluteUri.TrimEnd('/')}/relay/websocket", status.Url);
        await PortalRelay.WaitUntilAsync(() => relay.Logs.Contains(LogLevel.Information, "The portal sent init"), "init is logged");
        Assert.DoesNotContain(PortalRelay.Token, relay.Logs.All);
    }

    [Fact]
    public async Task Answered_heartbeats_go_out_every_10_s_on_topic_phoenix_and_keep_the_connection()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var connection = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        relay.Time.Advance(Heartbeat - TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<TimeoutException>(() => connection.NextFrameAsync(TimeSpan.FromMilliseconds(100)));
        for (ulong expected = 1; expected <= 6; expected++)
        {
            relay.Time.Advance(expected == 1 ? TimeSpan.FromMilliseconds(1) : Heartbeat);
            var heartbeat = await connection.NextFrameAsync();
            Assert.Equal(("phoenix", "heartbeat", expected), (heartbeat.Topic, heartbeat.Event, heartbeat.RefNumber));
            Assert.Equal("{}", heartbeat.Payload.GetRawText());

            // Fake time runs as fast as the test advances it: let the relay read the answer before the next tick, or
            // on a busy machine four ticks could outrun four answers and count as missed heartbeats.
            await PortalRelay.WaitUntilAsync(() => relay.Status.Snapshot().HeartbeatsAnswered == (long)expected, $"heartbeat {expected} answered");
        }

        Assert.False(connection.Closed.IsCompleted);
        Assert.Equal(PortalState.Joined, relay.Status.State);
        Assert.Equal(1, portal.RequestCount);
    }

    [Fact]
    public async Task More_than_three_unanswered_heartbeats_make_the_relay_reconnect()
    {
        await using var portal = await FakePortal.StartAsync();
        portal.Enqueue(new PortalPlan { AnswerHeartbeats = false });
        await using var relay = PortalRelay.Start(portal);
        var silent = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        for (ulong expected = 1; expected <= 4; expected++)
        {
            relay.Time.Advance(Heartbeat);
            Assert.Equal(expected, (await silent.WaitForAsync(f => f.Event == "heartbeat")).RefNumber);
        }

        Assert.False(silent.Closed.IsCompleted);
        Assert.Equal(PortalState.Joined, relay.Status.State);

        relay.Time.Advance(Heartbeat); // the fifth tick finds four outstanding
        Assert.True("close 1000 NormalClosure" == await silent.Closed.WaitAsync(TimeSpan.FromSeconds(3)), relay.Logs.All + " // " + relay.Status.LastError);
        TimeSpan delay = await relay.NextRetryDelayAsync();
        Assert.InRange(delay, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(750));
        Assert.Contains("heartbeats went unanswered", relay.Status.LastError);

        await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(1, relay.Status.ReconnectCount);
    }

    [Fact]
    public async Task An_unmatched_topic_reply_makes_the_relay_rejoin_on_the_same_connection()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var connection = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        connection.Join = JoinReply.Never;
        await connection.PushAsync("relay", "phx_reply", """{"status":"error","response":{"reason":"unmatched topic"}}""", "7");
        var rejoin = await connection.WaitForAsync(f => f.Event == "phx_join");
        Assert.Equal(1UL, rejoin.RefNumber); // refs keep counting on the connection
        Assert.Equal(RelayFactory.Secret, rejoin.Payload.GetProperty("stamp_secret").GetString());
        await relay.WaitForStateAsync(PortalState.Connecting);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await relay.ReadyzAsync());

        await connection.ReplyAsync(rejoin, "ok");
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(HttpStatusCode.OK, await relay.ReadyzAsync());
        Assert.Equal(1, portal.RequestCount);
        Assert.False(connection.Closed.IsCompleted);
        Assert.Equal(2, relay.Status.Snapshot().JoinCount);
    }

    [Fact]
    public async Task Unknown_json_junk_and_binary_frames_are_skipped_with_a_warning()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var connection = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        await connection.SendRawAsync("this is not json");
        await connection.SendRawAsync("""{"topic":"relay","event":"relays_presence","payload":{"connected":[]},"ref":null}""");
        await connection.SendRawAsync("""{"topic":"relay","event":"phx_error","payload":{},"ref":null}""");
        await connection.SendBinaryAsync([1, 2, 3]);

        await PortalRelay.WaitUntilAsync(() => relay.Logs.Contains(LogLevel.Warning, "event 'relays_presence' on topic 'relay'"), "the unknown event is logged");
        Assert.True(relay.Logs.Contains(LogLevel.Warning, "not a Phoenix message (not JSON)"));
        Assert.DoesNotContain("this is not json", relay.Logs.All);

        // Still joined and still talking.
        relay.Time.Advance(Heartbeat);
        Assert.Equal("heartbeat", (await connection.WaitForAsync(f => f.Topic == "phoenix")).Event);
        Assert.Equal(PortalState.Joined, relay.Status.State);
        Assert.Equal(1, portal.RequestCount);
    }

    [Fact]
    public async Task A_close_frame_is_answered_and_the_relay_reconnects()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var first = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        await first.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "going away");
        Assert.Equal("close 1000 NormalClosure", await first.Closed.WaitAsync(TimeSpan.FromSeconds(3))); // the relay's echo
        await relay.NextRetryDelayAsync();
        Assert.Contains("1001", relay.Status.LastError);

        var second = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(0UL, second.Frames[0].RefNumber); // refs restart per connection
    }

    [Fact]
    public async Task A_phx_close_from_the_portal_makes_the_relay_reconnect()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var first = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);

        await first.PushAsync("relay", "phx_close", "{}");
        await first.Closed.WaitAsync(TimeSpan.FromSeconds(3));
        await relay.NextRetryDelayAsync();
        await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(2, portal.RequestCount);
    }

    [Fact]
    public async Task When_the_portal_drops_the_socket_readiness_flips_while_relaying_continues()
    {
        await using var portal = await FakePortal.StartAsync();
        await using var relay = PortalRelay.Start(portal);
        var first = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(HttpStatusCode.OK, await relay.ReadyzAsync());

        using var client = new UdpTurnClient(relay.ListenV4, user: "portal-outage");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4001, peer.EndPoint);
        await AssertRelaysAsync(client, peer, relayed);

        // Portal gone, and it refuses the first attempt back: readiness drops, relaying does not.
        portal.Enqueue(new PortalPlan { RejectStatus = 503 });
        first.Drop();
        TimeSpan firstDelay = await relay.NextRetryDelayAsync(advance: false);
        Assert.InRange(firstDelay, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(750));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await relay.ReadyzAsync());
        Assert.False(relay.Runtime.PortalJoined);
        await AssertRelaysAsync(client, peer, relayed);

        relay.Time.Advance(firstDelay);
        TimeSpan secondDelay = await relay.NextRetryDelayAsync(advance: false);
        Assert.Equal(2, portal.RequestCount);
        Assert.InRange(secondDelay, TimeSpan.FromMilliseconds(375), TimeSpan.FromMilliseconds(1125)); // 750 ms ± 50 %
        Assert.Contains("503", relay.Status.LastError);
        await AssertRelaysAsync(client, peer, relayed);

        relay.Time.Advance(secondDelay);
        var second = await portal.NextJoinedConnectionAsync();
        await relay.WaitForStateAsync(PortalState.Joined);
        Assert.Equal(HttpStatusCode.OK, await relay.ReadyzAsync());
        Assert.Equal(RelayFactory.Secret, second.Frames[0].Payload.GetProperty("stamp_secret").GetString()); // same identity
        Assert.Equal(2, relay.Status.ReconnectCount);
        await AssertRelaysAsync(client, peer, relayed);

        // The backoff starts over after a join.
        second.Drop();
        Assert.InRange(await relay.NextRetryDelayAsync(advance: false), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(750));
    }

    private static async Task AssertRelaysAsync(UdpTurnClient client, UdpPeer peer, TransportAddress relayed)
    {
        byte[] up = [1, 2, 3, 4, 5];
        await client.SendChannelDataAsync(0x4001, up);
        Assert.Equal(up, (await peer.ReceiveAsync()).Data);

        byte[] down = [9, 8, 7];
        await peer.SendAsync(down, relayed);
        byte[] received = await client.ReceiveAsync();
        Assert.Equal(0x4001, BinaryPrimitives.ReadUInt16BigEndian(received));
        Assert.Equal(down, received[4..]);
    }
}
