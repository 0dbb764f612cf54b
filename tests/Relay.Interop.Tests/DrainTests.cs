using System.Net;
using Relay.Core.Stun;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// The graceful drain through the real binary: SIGTERM or POST /admin/drain with --drain-timeout turns /readyz
/// 503, refuses new Allocates, keeps existing allocations relaying and refreshing, and exits 0 when the last
/// allocation ends or the timeout passes.
/// </summary>
public sealed class DrainTests
{
    private static RelayProcess Start(params string[] extra) => RelayProcess.Start(
    [
        "--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1", "--listen-port", "0",
        "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0", // one listener for both
        "--relay-secret", UdpTurnClient.DefaultSecret, "--allow-loopback-peers", "--log-filter", "info", .. extra,
    ]);

    [Fact]
    public async Task Sigterm_drains_until_the_last_allocation_ends_then_exits_0()
    {
        using var relay = Start("--drain-timeout", "60");
        await relay.WaitUntilListeningAsync();
        var turn = new IPEndPoint(IPAddress.Loopback, relay.UdpPort);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{relay.HttpPort}") };
        using var staying = new UdpTurnClient(turn, "staying");
        using var peer = new UdpPeer(System.Net.Sockets.AddressFamily.InterNetwork);
        await staying.AllocateAsync();
        await staying.ChannelBindAsync(0x4000, peer.EndPoint);

        relay.SendSigterm();

        await Eventually.TrueAsync(async () => (await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable, "/readyz to turn 503");
        using var late = new UdpTurnClient(turn, "late");
        Assert.Equal(508, (await late.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport())).ErrorCode);
        Assert.True((await staying.RefreshAsync(600)).IsSuccess);
        await staying.SendChannelDataAsync(0x4000, [1, 2, 3]);
        Assert.Equal([1, 2, 3], (await peer.ReceiveAsync()).Data);
        Assert.False(relay.HasExited);

        Assert.True((await staying.RefreshAsync(0)).IsSuccess); // the last allocation ends

        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("Drained: the last allocation has ended", relay.Output);
    }

    [Fact]
    public async Task Admin_drain_with_an_alternate_server_answers_300_and_exits_0_at_the_timeout()
    {
        using var relay = Start("--drain-timeout", "2", "--alternate-server", "127.0.0.1:3479");
        await relay.WaitUntilListeningAsync();
        var turn = new IPEndPoint(IPAddress.Loopback, relay.UdpPort);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{relay.HttpPort}") };
        using var staying = new UdpTurnClient(turn, "staying");
        await staying.AllocateAsync();

        var accepted = await http.PostAsync("/admin/drain", null);

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Contains("\"drainTimeoutSeconds\":2", await accepted.Content.ReadAsStringAsync());
        await Eventually.TrueAsync(async () => (await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable, "/readyz to turn 503");
        using var late = new UdpTurnClient(turn, "late");
        var redirected = await late.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport());
        Assert.Equal(300, redirected.ErrorCode);
        Assert.Equal(new byte[] { 0, 1, 0x0D, 0x97, 127, 0, 0, 1 }, redirected.Get(StunAttr.AlternateServer));
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("Drain timeout reached with 1 allocation(s) left", relay.Output);
    }

    [Fact]
    public async Task Without_a_drain_timeout_sigterm_exits_at_once()
    {
        using var relay = Start();
        await relay.WaitUntilListeningAsync();
        using var client = new UdpTurnClient(new IPEndPoint(IPAddress.Loopback, relay.UdpPort), "any");
        await client.AllocateAsync();

        Assert.Equal(0, await relay.TerminateAsync(TimeSpan.FromSeconds(15)));
        Assert.DoesNotContain("Draining", relay.Output);
    }
}
