using System.Collections.Concurrent;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;

namespace Relay.Web.Tests.Support;

/// <summary>
/// A fast path that records what the data plane tells it and reports counters the test chose, so the host's side of
/// the seam (ordering, metrics, admin, stats line) is tested without a kernel. It can hold the data-plane thread
/// inside <see cref="ChannelBound"/> to observe what has and has not been sent at that moment.
/// </summary>
public sealed class FakeFastPath : IFastPath
{
    private readonly ConcurrentQueue<string> _calls = new();

    public string Name => "xdp";

    public bool Enabled => true;

    public IReadOnlyList<string> Calls => _calls.ToArray();

    public FastPathCounters Counters { get; set; } = FastPathCounters.Empty;

    public ChannelTraffic AllocationTraffic { get; set; }

    public ChannelTraffic ChannelTraffic { get; set; }

    /// <summary>When set, <see cref="ChannelBound"/> signals <see cref="ChannelBoundEntered"/> and waits for it.</summary>
    public SemaphoreSlim? HoldChannelBound { get; set; }

    public TaskCompletionSource ChannelBoundEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Disposed { get; private set; }

    public void AllocationBound(AllocationPort port, IpFamily family) => _calls.Enqueue($"bound {port} {family}");

    public void AllocationFreed(AllocationPort port, IpFamily family) => _calls.Enqueue($"freed {port} {family}");

    public void ChannelBound(AddChannelBinding binding)
    {
        _calls.Enqueue($"channel {binding.Channel} {binding.Client} -> {binding.Peer} on {binding.Port}");
        if (HoldChannelBound is { } hold)
        {
            ChannelBoundEntered.TrySetResult();
            hold.Wait(TimeSpan.FromSeconds(10));
        }
    }

    public void ChannelUnbound(RemoveChannelBinding binding) => _calls.Enqueue($"unbind {binding.Channel} {binding.Client} -> {binding.Peer} on {binding.Port}");

    public FastPathCounters ReadCounters() => Counters;

    public ChannelTraffic ReadChannel(AllocationPort port, ChannelNumber channel) => ChannelTraffic;

    public ChannelTraffic ReadAllocation(AllocationPort port) => AllocationTraffic;

    public long ReadOverBandwidth(AllocationPort port) => OverBandwidth;

    /// <summary>What <see cref="ReadOverBandwidth"/> reports for every port.</summary>
    public long OverBandwidth { get; set; }

    public void Dispose() => Disposed = true;
}
