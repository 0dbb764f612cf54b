using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Randomness;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.Core.Time;
using Relay.TestSupport;

namespace Relay.Core.Tests.Policy;

public class SourceRateLimiterTests
{
    private static readonly Instant T0 = Instant.FromUnixSeconds(1_700_000_000);

    [Fact]
    public void A_source_gets_its_burst_then_its_rate()
    {
        var limiter = new SourceRateLimiter(ratePerSecond: 10, burst: 20, new SeededRandom(1));
        var source = IpAddr.Parse("198.51.100.7");

        Assert.Equal(20, Enumerable.Range(0, 100).Count(_ => limiter.TryAcquire(source, T0)));
        Assert.Equal(1, Enumerable.Range(0, 10).Count(_ => limiter.TryAcquire(source, T0 + TimeSpan.FromMilliseconds(100))));
        Assert.Equal(10, Enumerable.Range(0, 100).Count(_ => limiter.TryAcquire(source, T0 + TimeSpan.FromMilliseconds(1100))));
        Assert.Equal(20, Enumerable.Range(0, 100).Count(_ => limiter.TryAcquire(source, T0 + TimeSpan.FromSeconds(10)))); // quiet: full again
    }

    [Fact]
    public void Other_sources_are_not_affected_and_a_clock_step_back_grants_nothing()
    {
        var limiter = new SourceRateLimiter(ratePerSecond: 1, burst: 1, new SeededRandom(2));
        Assert.True(limiter.TryAcquire(IpAddr.Parse("198.51.100.7"), T0));
        Assert.False(limiter.TryAcquire(IpAddr.Parse("198.51.100.7"), T0 - TimeSpan.FromSeconds(5)));
        Assert.True(limiter.TryAcquire(IpAddr.Parse("2001:db8::7"), T0));
        Assert.True(limiter.TryAcquire(IpAddr.Parse("198.51.100.8"), T0));
    }

    [Fact]
    public void Zero_turns_it_off() =>
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(new SourceRateLimiter(0, 1, new SeededRandom(3)).TryAcquire(IpAddr.V4Loopback, T0)));

    [Fact]
    public void The_engine_withholds_challenges_beyond_the_rate_and_counts_them_but_never_limits_authenticated_clients()
    {
        var options = TestRelay.DefaultOptions();
        var relay = new TestRelay(new RelayServerOptions
        {
            PublicIPv4 = options.PublicIPv4, RelaySecret = TestRelay.Secret, Peers = options.Peers,
            UnauthenticatedResponsesPerSecond = 5, UnauthenticatedResponseBurst = 5,
        });
        var client = relay.Client("198.51.100.7:40000");
        client.Allocate(); // one 401, then success

        byte[] unauthenticated = new MessageSpec(StunMethod.Allocate).RequestedTransport().Build();
        int answered = 0;
        for (int i = 0; i < 50; i++)
        {
            relay.Server.HandleClientInput(unauthenticated, ClientSocket.Parse($"198.51.100.7:{41000 + i}"), relay.Now);
            answered += relay.Drain().Count;
        }

        Assert.Equal(4, answered); // the burst of 5, less the Allocate's own challenge
        Assert.Equal(46, relay.Server.Counters.Drops(DropReason.UnauthenticatedRateLimited));
        Assert.True(client.Request(new MessageSpec(StunMethod.Refresh).Lifetime(600)).IsSuccess); // same IP, authenticated
        relay.Server.HandleClientInput(unauthenticated, ClientSocket.Parse("198.51.100.9:40000"), relay.Now);
        Assert.Single(relay.Drain()); // another source
    }
}
