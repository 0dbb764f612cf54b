using System.Net.Sockets;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>
/// --unauthenticated-rate over real UDP: a source flooding unauthenticated Allocates gets its burst of challenges
/// and no more, the withheld ones are in /metrics, and an authenticated client on the same address is not limited.
/// </summary>
public sealed class UnauthenticatedLimitTests : IDisposable
{
    private readonly RelayFactory _relay = new(new() { ["unauthenticated-rate"] = "1" }); // bursts of 2

    [Fact]
    public async Task A_flooding_source_gets_its_burst_of_challenges_and_the_rest_are_counted()
    {
        byte[] allocate = new MessageSpec(StunMethod.Allocate).RequestedTransport().Build();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        for (int i = 0; i < 20; i++)
        {
            await socket.SendToAsync(allocate, _relay.ListenV4);
        }

        // Two challenges arrive; the 18 withheld are counted. Every request is then accounted for (2 + 18), so a
        // third answer cannot still be on its way.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        for (int i = 0; i < 2; i++)
        {
            var received = await socket.ReceiveAsync(new byte[2048], cancel.Token);
            Assert.True(received > 20);
        }

        await Eventually.TrueAsync(() => Withheld() == 18, "18 challenges to be withheld");
        Assert.Equal(0, socket.Available);
        using var http = _relay.CreateClient();
        string scrape = await http.GetStringAsync("/metrics");
        Assert.Matches(@"(?m)^relay_dropped_packets_total\{[^}]*reason=""unauthenticated_rate_limited""[^}]*\} 18\b", scrape);
    }

    [Fact]
    public async Task An_authenticated_client_is_never_limited()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "busy");
        await client.AllocateAsync(); // spends one of the two challenges
        for (int i = 0; i < 20; i++)
        {
            Assert.True((await client.RefreshAsync(600)).IsSuccess);
        }

        Assert.Equal(0, Withheld());
    }

    private long Withheld() => _relay.Runtime.Engine!.Counters.Drops(DropReason.UnauthenticatedRateLimited);

    public void Dispose() => _relay.Dispose();
}
