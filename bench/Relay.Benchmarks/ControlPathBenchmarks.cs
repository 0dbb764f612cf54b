using BenchmarkDotNet.Attributes;
using Relay.Benchmarks.Support;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Benchmarks;

/// <summary>
/// Authenticated Allocate (target: at least 50,000 per second on one core, i.e. at most 20 µs each).
/// <para>
/// <see cref="AuthenticatedAllocate"/>: one op is ONE authenticated Allocate, handled and drained. Two client
/// sockets of the same Firezone username take turns, so each Allocate also replaces (deletes) the allocation the
/// other socket made one op earlier — Firezone's one-allocation-per-username rule. State stays at one allocation
/// and every allocation made is also freed, which is the real lifetime cost of an Allocate.
/// </para>
/// <para>
/// <see cref="AllocateThenRefreshZero"/>: one op is a PAIR, an Allocate and a Refresh(LIFETIME=0) from one socket,
/// both authenticated and drained: an upper bound for one Allocate that does not rely on the replace rule.
/// </para>
/// <para>
/// Every Allocate has its own transaction id (a precomputed ring of signed requests), so none is taken for a
/// retransmission. The engine's timer heap deletes lazily: a freed allocation stays referenced by its heap entry
/// until its original deadline (now + 600 s). With a fixed clock that is never, so the heap (and everything the
/// dead allocations hold) would grow with every op; the unmeasured <see cref="PurgeTimers"/> runs the timers far
/// ahead after each iteration, which is why this class fixes the invocation count (BenchmarkDotNet requires it with
/// [IterationCleanup]). A fixed invocation count skips BenchmarkDotNet's pilot stage, and the Allocate path runs as
/// tier-0 / instrumented code for the first 0.5–2 s (10–15 µs per Allocate instead of about 7), hence the long
/// warmup. Each iteration also ends in about one gen-2 GC: the freed allocations survive until the purge.
/// </para>
/// </summary>
[MemoryDiagnoser]
[InvocationCount(InvocationsPerIteration, 16)]
[WarmupCount(15)]
public class AllocateBenchmarks
{
    /// <summary>About 100–200 ms per iteration at 5–10 µs per Allocate.</summary>
    private const int InvocationsPerIteration = 16_384;

    private const int RingSize = 16_384; // a power of two; even, so the two sockets keep alternating

    private RelayServer _server = null!;
    private Instant _now;
    private byte[][] _alternating = null!;
    private ClientSocket[] _alternatingFrom = null!;
    private byte[][] _pairAllocates = null!;
    private byte[] _refreshZero = null!;
    private ClientSocket _pairClient;
    private int _next;

    [GlobalSetup(Target = nameof(AuthenticatedAllocate))]
    public void SetupAlternating()
    {
        _now = BenchRelay.Now;
        _server = BenchRelay.Create();
        var a = new BenchClient(_server, BenchRelay.ClientA, "n23JJ2wKKtt30oXi", _now);
        var b = new BenchClient(_server, BenchRelay.ClientB, "n23JJ2wKKtt30oXi", _now);
        a.Challenge(); // nonces are bound to the client's address and port
        b.Challenge();

        _alternating = new byte[RingSize][];
        _alternatingFrom = new ClientSocket[RingSize];
        for (int i = 0; i < RingSize; i++)
        {
            BenchClient client = (i & 1) == 0 ? a : b;
            _alternating[i] = client.Sign(BenchClient.AllocateRequest(StunRequest.TransactionId(0xA110_0000, (ulong)i)));
            _alternatingFrom[i] = client.Socket;
        }

        // Reach the steady state (one live allocation, owned by B), checking the first requests really succeed.
        b.Allocate();
        for (int i = 0; i < 4; i++)
        {
            BenchClient sender = (i & 1) == 0 ? a : b;
            BenchClient.Expect(sender.Exchange(_alternating[i]), 0, "Allocate " + i);
        }

        RequireAllocationCount(1);
        _next = 4;
    }

    [GlobalSetup(Target = nameof(AllocateThenRefreshZero))]
    public void SetupPair()
    {
        _now = BenchRelay.Now;
        _server = BenchRelay.Create();
        var c = new BenchClient(_server, BenchRelay.ClientC, "Kq1t0pR7mZ3vX9aB", _now);
        c.Challenge();
        _pairClient = c.Socket;
        _pairAllocates = new byte[RingSize][];
        for (int i = 0; i < RingSize; i++)
        {
            _pairAllocates[i] = c.Sign(BenchClient.AllocateRequest(StunRequest.TransactionId(0xA111_0000, (ulong)i)));
        }

        _refreshZero = c.Sign(BenchClient.RefreshRequest(StunRequest.TransactionId(0x4EF0_0000, 0), 0));

        for (int i = 0; i < 2; i++)
        {
            BenchClient.Expect(c.Exchange(_pairAllocates[i]), 0, "Allocate " + i);
            Response refresh = c.Exchange(_refreshZero);
            BenchClient.Expect(refresh, 0, "Refresh(0)");
            if (refresh.GetUInt32(StunAttr.Lifetime) != 0)
            {
                throw new InvalidOperationException("Refresh(0) did not answer LIFETIME 0.");
            }
        }

        RequireAllocationCount(0);
        _next = 2;
    }

    private void RequireAllocationCount(int expected)
    {
        if (_server.AllocationCount != expected)
        {
            throw new InvalidOperationException($"Benchmark setup: {_server.AllocationCount} allocations, expected {expected}.");
        }
    }

    [IterationCleanup]
    public void PurgeTimers()
    {
        // Pops (and skips) the heap entries of the allocations freed during the iteration. The live allocation, if
        // any, expires too; the next op then simply creates one without replacing anything.
        _server.HandleTimeout(_now + TimeSpan.FromDays(1));
        BenchRelay.Drain(_server);
    }

    /// <summary>5. One authenticated Allocate (which replaces the same user's previous allocation), drained.</summary>
    [Benchmark]
    public int AuthenticatedAllocate()
    {
        int i = _next;
        _next = (i + 1) & (RingSize - 1);
        _server.HandleClientInput(_alternating[i], _alternatingFrom[i], _now);
        return BenchRelay.Drain(_server);
    }

    /// <summary>5b. An authenticated Allocate plus an authenticated Refresh(LIFETIME=0), both drained: ONE op = TWO requests.</summary>
    [Benchmark]
    public int AllocateThenRefreshZero()
    {
        int i = _next;
        _next = (i + 1) & (RingSize - 1);
        _server.HandleClientInput(_pairAllocates[i], _pairClient, _now);
        int commands = BenchRelay.Drain(_server);
        _server.HandleClientInput(_refreshZero, _pairClient, _now);
        return commands + BenchRelay.Drain(_server);
    }
}

/// <summary>
/// 6. An authenticated ChannelBind that refreshes the existing binding of channel 0x4000 (the client re-binds every
/// few minutes to keep it): authentication, permission refresh, response with MESSAGE-INTEGRITY and FINGERPRINT.
/// The same request bytes are sent every time (ChannelBind has no retransmission cache).
/// </summary>
[MemoryDiagnoser]
public class ChannelBindBenchmarks
{
    private RelayServer _server = null!;
    private ClientSocket _client;
    private Instant _now;
    private byte[] _channelBind = null!;

    [GlobalSetup]
    public void Setup()
    {
        _now = BenchRelay.Now;
        _server = BenchRelay.Create();
        var client = new BenchClient(_server, BenchRelay.ClientA, "n23JJ2wKKtt30oXi", _now);
        _client = client.Socket;
        client.Challenge();
        client.Allocate();
        client.ChannelBind(BenchRelay.Channel, BenchRelay.ChannelPeer);
        _channelBind = client.Sign(BenchClient.ChannelBindRequest(StunRequest.TransactionId(0xCB00_0000, 1), BenchRelay.Channel, BenchRelay.ChannelPeer));
        BenchClient.Expect(client.Exchange(_channelBind), 0, "ChannelBind refresh");
        BenchClient.Expect(client.Exchange(_channelBind), 0, "ChannelBind refresh");
        if (_server.BoundChannelCount != 1)
        {
            throw new InvalidOperationException("Benchmark setup: expected one bound channel.");
        }
    }

    [Benchmark]
    public int ChannelBind()
    {
        _server.HandleClientInput(_channelBind, _client, _now);
        return BenchRelay.Drain(_server);
    }
}
