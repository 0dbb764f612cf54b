using System.Net;
using System.Text;
using System.Text.Json;
using Relay.Web.Portal;

namespace Relay.Web.Tests.Portal;

/// <summary>The portal protocol's pure pieces: framing, the session state machine, the URL and the retry policy.</summary>
public sealed class PhoenixProtocolTests
{
    private const string Secret = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";

    private static PhoenixMessage Decode(string json)
    {
        Assert.True(PhoenixCodec.TryDecode(Encoding.UTF8.GetBytes(json), out var message, out string? error), error);
        return message;
    }

    private static string Text(byte[]? frame) => Encoding.UTF8.GetString(frame!);

    [Fact]
    public void Join_and_heartbeat_frames_are_phoenix_v1_json()
    {
        Assert.Equal($$"""{"topic":"relay","event":"phx_join","payload":{"stamp_secret":"{{Secret}}"},"ref":0}""", Text(PhoenixCodec.EncodeJoin(0, Secret)));
        Assert.Equal("""{"topic":"phoenix","event":"heartbeat","payload":{},"ref":7}""", Text(PhoenixCodec.EncodeHeartbeat(7)));
        Assert.Equal("""{"topic":"relay","event":"x","payload":{},"ref":null}""", Text(PhoenixCodec.Encode("relay", "x", null, _ => { })));
    }

    [Theory]
    [InlineData("""{"topic":"relay","event":"init","payload":{},"ref":null}""", null)]
    [InlineData("""{"topic":"relay","event":"init","payload":{}}""", null)]
    [InlineData("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":0}""", 0UL)]
    [InlineData("""{"ref":"42","topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}}}""", 42UL)]
    [InlineData("""{"topic":"relay","event":"e","payload":null,"ref":18446744073709551615,"join_ref":null}""", ulong.MaxValue)]
    public void Inbound_frames_decode_with_a_numeric_string_or_null_ref(string json, ulong? reference)
    {
        var message = Decode(json);
        Assert.Equal(reference, message.Ref);
        Assert.False(string.IsNullOrEmpty(message.Topic));
        Assert.False(string.IsNullOrEmpty(message.Event));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"topic":"relay","event":"init","payload":{}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""{"event":"init","payload":{},"ref":null}""")]
    [InlineData("""{"topic":1,"event":"init","payload":{},"ref":null}""")]
    [InlineData("""{"topic":"relay","payload":{},"ref":null}""")]
    [InlineData("""{"topic":"relay","event":"init","payload":{},"ref":-1}""")]
    [InlineData("""{"topic":"relay","event":"init","payload":{},"ref":1.5}""")]
    [InlineData("""{"topic":"relay","event":"init","payload":{},"ref":{}}""")]
    [InlineData("""{"topic":"relay","event":"init","payload":{}} trailing""")]
    public void Malformed_frames_are_rejected_with_a_reason(string json)
    {
        Assert.False(PhoenixCodec.TryDecode(Encoding.UTF8.GetBytes(json), out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.DoesNotContain("trailing", error);
    }

    [Fact]
    public void Reply_fields_are_read_from_the_payload()
    {
        var reply = Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"error","response":{"reason":"unmatched topic"}},"ref":3}""");
        Assert.Equal("error", reply.ReplyStatus);
        Assert.Equal("unmatched topic", reply.ReplyReason);
        Assert.Equal("token_expired", Decode("""{"topic":"relay","event":"disconnect","payload":{"reason":"token_expired"},"ref":null}""").PayloadReason);
        Assert.Null(Decode("""{"topic":"relay","event":"phx_reply","payload":"odd","ref":3}""").ReplyStatus);
    }

    [Fact]
    public void A_session_joins_with_ref_0_and_is_joined_only_after_an_ok_reply()
    {
        var session = new PhoenixSession(Secret);
        var join = session.Start();
        Assert.Equal(SessionActionKind.Join, join.Kind);
        Assert.Equal(0UL, join.Ref);
        Assert.Null(join.Detail);
        using (var frame = JsonDocument.Parse(join.Frame))
        {
            Assert.Equal(Secret, frame.RootElement.GetProperty("payload").GetProperty("stamp_secret").GetString());
        }

        Assert.False(session.IsJoined);
        Assert.Equal(SessionActionKind.Ignored, session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":9}""")).Kind);
        Assert.False(session.IsJoined);

        var joined = session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":0}"""));
        Assert.Equal(SessionActionKind.Joined, joined.Kind);
        Assert.True(session.IsJoined);
        Assert.Equal(SessionActionKind.None, session.JoinTimedOut(0).Kind); // answered in time
        Assert.Equal(SessionActionKind.Init, session.Handle(Decode("""{"topic":"relay","event":"init","payload":{},"ref":null}""")).Kind);
    }

    [Fact]
    public void An_error_reply_to_the_join_is_fatal_and_names_the_portals_reason()
    {
        var session = new PhoenixSession(Secret);
        session.Start();
        var action = session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"error","response":{"reason":"invalid_version"}},"ref":0}"""));
        Assert.Equal(SessionActionKind.Fatal, action.Kind);
        Assert.Contains("invalid_version", action.Detail);
    }

    [Fact]
    public void A_join_without_a_reply_times_out_into_a_reconnect()
    {
        var session = new PhoenixSession(Secret);
        session.Start();
        Assert.Equal(SessionActionKind.None, session.JoinTimedOut(5).Kind); // some other ref
        var action = session.JoinTimedOut(0);
        Assert.Equal(SessionActionKind.Reconnect, action.Kind);
        Assert.Contains("join", action.Detail);
    }

    [Fact]
    public void Heartbeats_count_up_refs_and_more_than_three_unanswered_force_a_reconnect()
    {
        var session = new PhoenixSession(Secret);
        session.Start();
        session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":0}"""));

        var first = session.HeartbeatDue();
        Assert.Equal(SessionActionKind.Send, first.Kind);
        Assert.Equal("""{"topic":"phoenix","event":"heartbeat","payload":{},"ref":1}""", Text(first.Frame));
        Assert.Equal(SessionActionKind.None, session.Handle(Decode("""{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":1}""")).Kind);
        Assert.Equal(0, session.UnansweredHeartbeats);

        for (ulong expected = 2; expected <= 5; expected++)
        {
            var heartbeat = session.HeartbeatDue();
            Assert.Equal(SessionActionKind.Send, heartbeat.Kind);
            Assert.Equal(expected, heartbeat.Ref);
        }

        Assert.Equal(4, session.UnansweredHeartbeats);

        // A late answer to ref 3 also accounts for ref 2 before it.
        session.Handle(Decode("""{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":3}"""));
        Assert.Equal(2, session.UnansweredHeartbeats);
        Assert.Equal(SessionActionKind.Send, session.HeartbeatDue().Kind);
        Assert.Equal(SessionActionKind.Send, session.HeartbeatDue().Kind);
        Assert.Equal(4, session.UnansweredHeartbeats);

        var reconnect = session.HeartbeatDue();
        Assert.Equal(SessionActionKind.Reconnect, reconnect.Kind);
        Assert.Contains("heartbeats", reconnect.Detail);
        Assert.False(session.IsJoined);
    }

    [Fact]
    public void An_unmatched_topic_reply_rejoins_on_the_same_connection_with_a_new_ref()
    {
        var session = new PhoenixSession(Secret);
        session.Start();
        session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":0}"""));
        session.HeartbeatDue(); // ref 1

        var rejoin = session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"error","response":{"reason":"unmatched topic"}},"ref":1}"""));
        Assert.Equal(SessionActionKind.Join, rejoin.Kind);
        Assert.Equal(2UL, rejoin.Ref);
        Assert.Contains("unmatched topic", rejoin.Detail);
        Assert.False(session.IsJoined);
        Assert.Equal(SessionActionKind.None, session.JoinTimedOut(0).Kind);
        Assert.Equal(SessionActionKind.Joined, session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":2}""")).Kind);
    }

    [Theory]
    [InlineData("""{"topic":"relay","event":"disconnect","payload":{"reason":"token_expired"},"ref":null}""", SessionActionKind.Fatal)]
    [InlineData("""{"topic":"relay","event":"disconnect","payload":{"reason":"shutdown"},"ref":null}""", SessionActionKind.Reconnect)]
    [InlineData("""{"topic":"relay","event":"phx_close","payload":{},"ref":null}""", SessionActionKind.Reconnect)]
    [InlineData("""{"topic":"relay","event":"phx_error","payload":{},"ref":null}""", SessionActionKind.Ignored)]
    [InlineData("""{"topic":"relay","event":"relays_presence","payload":{},"ref":null}""", SessionActionKind.Unexpected)]
    [InlineData("""{"topic":"elsewhere","event":"init","payload":{},"ref":null}""", SessionActionKind.Unexpected)]
    [InlineData("""{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":99}""", SessionActionKind.Ignored)]
    public void Portal_events_map_to_actions(string json, SessionActionKind expected)
    {
        var session = new PhoenixSession(Secret);
        session.Start();
        session.Handle(Decode("""{"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":0}"""));
        var action = session.Handle(Decode(json));
        Assert.Equal(expected, action.Kind);
        if (expected == SessionActionKind.Fatal)
        {
            Assert.Contains("FIREZONE_TOKEN", action.Detail);
        }
    }

    [Theory]
    [InlineData("ws://portal:8081", "ws://portal:8081/relay/websocket?ipv4=203.0.113.7&port=3478")]
    [InlineData("http://portal:8081/", "ws://portal:8081/relay/websocket?ipv4=203.0.113.7&port=3478")]
    [InlineData("https://api.firezone.dev", "wss://api.firezone.dev/relay/websocket?ipv4=203.0.113.7&port=3478")]
    [InlineData("wss://api.firezone.dev:8443/base/", "wss://api.firezone.dev:8443/base/relay/websocket?ipv4=203.0.113.7&port=3478")]
    public void The_login_url_maps_the_scheme_and_appends_the_relay_socket_path(string api, string expected)
    {
        Assert.Equal(expected, PortalLoginUrl.Build(new Uri(api), null, IPAddress.Parse("203.0.113.7"), null, 3478).AbsoluteUri);
    }

    [Fact]
    public void The_login_url_carries_only_known_values_escaped()
    {
        var url = PortalLoginUrl.Build(new Uri("wss://portal"), "relay one&two", IPAddress.Parse("203.0.113.7"), IPAddress.Parse("2001:db8::1"), 50000);
        Assert.Equal("?name=relay%20one%26two&ipv4=203.0.113.7&ipv6=2001%3Adb8%3A%3A1&port=50000", url.Query);
        Assert.Equal("?ipv6=%3A%3A1&port=3478", PortalLoginUrl.Build(new Uri("ws://p"), null, null, IPAddress.IPv6Loopback, 3478).Query);
        Assert.Equal("wss://portal/relay/websocket", PortalLoginUrl.Redact(url));
        Assert.Throws<ArgumentException>(() => PortalLoginUrl.Build(new Uri("ftp://portal"), null, null, null, 3478));
    }

    [Fact]
    public void The_user_agent_has_the_reference_shape()
    {
        Assert.Equal("Debian/12 relay/1.2.3 (x86_64; 6.1.0-18-amd64)", PortalUserAgent.Format("Debian", "12", "1.2.3", "x86_64", "6.1.0-18-amd64"));
        Assert.Equal("Bad_OS/1 relay/unknown (x86_64; k_1_)", PortalUserAgent.Format("Bad/OS", "1", " ", "x86_64", "k(1)"));
        Assert.Matches(@"^[^/ ][^/]*/\S+ relay/\S+ \([^;()]+; [^()]+\)$", PortalUserAgent.Value);
    }

    [Fact]
    public void Backoff_starts_at_500_ms_grows_by_half_and_caps_at_60_s()
    {
        var middle = ExponentialBackoff.ForReconnects(() => 0.5); // no jitter
        var delays = Enumerable.Range(0, 14).Select(_ => middle.Next().TotalMilliseconds).ToArray();
        Assert.Equal([500, 750, 1125, 1687.5, 2531.25], delays[..5], new ToleranceComparer(0.01));
        Assert.Equal(60_000, delays[^1]);
        Assert.All(delays.Zip(delays.Skip(1)), pair => Assert.True(pair.Second >= pair.First));

        middle.Reset();
        Assert.Equal(500, middle.Next().TotalMilliseconds);
    }

    [Fact]
    public void Backoff_jitter_spans_plus_minus_half_and_never_exceeds_the_cap()
    {
        Assert.Equal(250, ExponentialBackoff.ForReconnects(() => 0).Next().TotalMilliseconds);
        Assert.Equal(749.9, ExponentialBackoff.ForReconnects(() => 0.9999).Next().TotalMilliseconds, 0.1);

        var high = ExponentialBackoff.ForReconnects(() => 0.9999);
        var capped = Enumerable.Range(0, 30).Select(_ => high.Next()).ToArray();
        Assert.All(capped, d => Assert.True(d <= TimeSpan.FromSeconds(60)));
        Assert.Equal(TimeSpan.FromSeconds(60), capped[^1]);

        var random = new Random(1);
        var seeded = ExponentialBackoff.ForReconnects(random.NextDouble);
        double interval = 500;
        for (int i = 0; i < 20; i++)
        {
            double delay = seeded.Next().TotalMilliseconds;
            Assert.InRange(delay, (interval * 0.5) - 0.001, Math.Min(interval * 1.5, 60_000) + 0.001);
            interval = Math.Min(interval * 1.5, 60_000);
        }
    }

    [Fact]
    public void Before_the_first_join_attempts_are_a_second_apart_and_end_15_s_after_the_start()
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var planner = new PortalRetryPlanner(start, () => 0.5);
        Assert.Equal(TimeSpan.FromSeconds(15), planner.AttemptTimeout(start));
        Assert.Equal(TimeSpan.FromSeconds(5), planner.AttemptTimeout(start.AddSeconds(10)));
        Assert.Equal(TimeSpan.Zero, planner.AttemptTimeout(start.AddSeconds(16)));

        Assert.Equal(RetryDecision.After(TimeSpan.FromSeconds(1)), planner.Next(start.AddSeconds(13), null));
        Assert.True(planner.Next(start.AddSeconds(14), null).GiveUp); // the next attempt would start at the deadline
        Assert.True(planner.Next(start.AddSeconds(15), null).GiveUp); // a hung attempt ran into it
        Assert.Equal(RetryDecision.After(TimeSpan.FromSeconds(5)), planner.Next(start.AddSeconds(2), TimeSpan.FromSeconds(5)));
        Assert.True(planner.Next(start.AddSeconds(2), TimeSpan.FromSeconds(20)).GiveUp);
    }

    [Fact]
    public void After_a_join_reconnects_back_off_for_24_h_from_the_loss_and_reset_on_the_next_join()
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var planner = new PortalRetryPlanner(start, () => 0.5);
        planner.Joined();
        var lost = start.AddDays(3);
        planner.ConnectionEnded(lost);
        Assert.Equal(lost, planner.OutageStart);
        Assert.Equal(TimeSpan.FromSeconds(15), planner.AttemptTimeout(lost.AddHours(5)));

        Assert.Equal(TimeSpan.FromMilliseconds(500), planner.Next(lost, null).Delay);
        Assert.Equal(TimeSpan.FromMilliseconds(750), planner.Next(lost.AddSeconds(1), null).Delay);
        planner.ConnectionEnded(lost.AddSeconds(2)); // a failed attempt does not move the outage start
        Assert.Equal(lost, planner.OutageStart);
        Assert.Equal(TimeSpan.FromSeconds(60), planner.Next(lost.AddHours(23), TimeSpan.FromSeconds(60)).Delay);
        Assert.True(planner.Next(lost.AddHours(24).AddSeconds(-1), null).GiveUp); // the next backoff (1.125 s) would pass 24 h

        planner.Joined();
        planner.ConnectionEnded(lost.AddDays(1));
        Assert.Equal(lost.AddDays(1), planner.OutageStart);
        Assert.Equal(TimeSpan.FromMilliseconds(500), planner.Next(lost.AddDays(1), null).Delay);
    }

    [Theory]
    [InlineData("5", 5.0)]
    [InlineData(" 120 ", 120.0)]
    [InlineData("0", 0.0)]
    [InlineData("Thu, 01 Jan 2026 00:00:30 GMT", 30.0)]
    [InlineData("Wed, 31 Dec 2025 23:00:00 GMT", 0.0)]
    [InlineData("soon", null)]
    [InlineData("-3", null)]
    [InlineData("", null)]
    public void Retry_after_is_seconds_or_an_http_date(string value, double? seconds)
    {
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(seconds, PortalRetryPlanner.ParseRetryAfter(value, now)?.TotalSeconds);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
