using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>The lifetime settings reach the engine: what an Allocate and a Refresh are granted over real UDP.</summary>
public sealed class LifetimeSettingsTests : IDisposable
{
    private readonly RelayFactory _relay = new(new() { ["allocation-lifetime"] = "120", ["max-allocation-lifetime"] = "300" });

    [Fact]
    public async Task Allocations_get_the_configured_default_and_at_most_the_configured_maximum()
    {
        using var plain = new UdpTurnClient(_relay.ListenV4, "plain");
        using var greedy = new UdpTurnClient(_relay.ListenV4, "greedy");

        var granted = await plain.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport());
        var capped = await greedy.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport().Lifetime(3600));

        Assert.Equal(120u, granted.GetUInt32(StunAttr.Lifetime));
        Assert.Equal(300u, capped.GetUInt32(StunAttr.Lifetime));
        Assert.Equal(300u, (await plain.RefreshAsync(1000)).GetUInt32(StunAttr.Lifetime));
        Assert.Equal(120u, (await plain.RefreshAsync(30)).GetUInt32(StunAttr.Lifetime));
    }

    public void Dispose() => _relay.Dispose();
}
