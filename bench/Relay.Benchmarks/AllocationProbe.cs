using System.Diagnostics;
using System.Globalization;
using System.Text;
using Relay.Benchmarks.Support;
using Relay.Core.Auth;
using Relay.Core.Randomness;
using Relay.Core.Stun;

namespace Relay.Benchmarks;

/// <summary>
/// A quick cross-check of the memory diagnoser without BenchmarkDotNet: calls each benchmark method many times on
/// one thread and reports GC.GetAllocatedBytesForCurrentThread per call (and a rough Stopwatch time). It also
/// measures how much memory freed allocations keep alive through the engine's lazily-deleted timer heap.
/// </summary>
internal static class AllocationProbe
{
    public static int Run()
    {
        var data = new DataPathBenchmarks();
        data.Setup();
        Probe("ChannelDataFromClient", 2_000_000, () => data.ChannelDataFromClient());
        Probe("PeerDatagramToClient", 2_000_000, () => data.PeerDatagramToClient());
        Probe("PeerDatagramAsDataIndication", 2_000_000, () => data.PeerDatagramAsDataIndication());
        Probe("SendIndicationFromClient", 2_000_000, () => data.SendIndicationFromClient());
        Probe("SendIndicationWithFingerprint", 2_000_000, () => data.SendIndicationWithFingerprintFromClient());

        var parse = new StunParseBenchmarks();
        parse.Setup();
        Probe("ParseStunMessage", 200_000, () => parse.ParseStunMessage() ? 1 : 0);
        Probe("ParseStunMessageWithoutIntegrity", 2_000_000, () => parse.ParseStunMessageWithoutIntegrity());

        var bind = new ChannelBindBenchmarks();
        bind.Setup();
        Probe("ChannelBind", 100_000, () => bind.ChannelBind());

        var alloc = new AllocateBenchmarks();
        alloc.SetupAlternating();
        Probe("AuthenticatedAllocate", 16_384, () => alloc.AuthenticatedAllocate(), alloc.PurgeTimers);

        var pair = new AllocateBenchmarks();
        pair.SetupPair();
        Probe("AllocateThenRefreshZero (pair)", 16_384, () => pair.AllocateThenRefreshZero(), pair.PurgeTimers);

        Retention();
        AuthenticationBreakdown();
        return 0;
    }

    /// <summary>The steps every authenticated request pays, one at a time, through the engine's public APIs.</summary>
    private static void AuthenticationBreakdown()
    {
        Console.WriteLine("Authentication steps (each also runs inside Allocate, Refresh, ChannelBind):");
        var server = BenchRelay.Create();
        var client = new BenchClient(server, BenchRelay.ClientA, "n23JJ2wKKtt30oXi", BenchRelay.Now);
        client.Challenge();
        byte[] nonce = Encoding.UTF8.GetBytes(client.Nonce!);
        var nonces = new StatelessNonces(new SecureRandomSource(), TimeSpan.FromSeconds(600));
        byte[] ownNonce = Encoding.UTF8.GetBytes(nonces.Issue(client.Socket, BenchRelay.Now));
        byte[] usernameBytes = Encoding.UTF8.GetBytes(client.Username);
        byte[] request = client.Sign(BenchClient.AllocateRequest(StunRequest.TransactionId(0xB4EA_0000, 1)));
        byte[] mac = new byte[32];

        Probe("  StatelessNonces.Verify", 200_000, () => (int)nonces.Verify(ownNonce, client.Socket, BenchRelay.Now));
        Probe("  UTF-8 username -> string", 200_000, () => Encoding.UTF8.GetString(usernameBytes).Length);
        Probe("  CredentialScheme.TryGetPassword", 200_000, () => (int)server.Credentials.TryGetPassword(client.Username, BenchRelay.Now, out _));
        Probe("  StunIntegrity.LongTermKey (MD5)", 200_000, () => StunIntegrity.LongTermKey(client.Username, client.Realm, "password-of-43-chars-like-firezone-base64xx").Length);
        Probe("  StunIntegrity.ComputeHmac (SHA1)", 200_000, () => StunIntegrity.ComputeHmac(IntegrityKind.Sha1, client.Key, request.AsSpan(0, request.Length - 32), 20, mac));
        byte[] noFingerprint = BenchClient.AllocateRequest(StunRequest.TransactionId(0xB4EA_0000, 2))
            .Add(StunAttr.Username, client.Username).Add(StunAttr.Realm, client.Realm).Add(StunAttr.Nonce, client.Nonce!)
            .Build(client.Key, fingerprint: false);
        Probe("  StunMessage.TryParse, FINGERPRINT", 2_000_000, () => (int)StunMessage.TryParse(request, out _));
        Probe("  StunMessage.TryParse, none", 2_000_000, () => (int)StunMessage.TryParse(noFingerprint, out _));
        GC.KeepAlive(nonce);
    }

    private static void Probe(string name, int calls, Func<int> call, Action? cleanup = null)
    {
        // Warm up (tiering) with the same number of calls, then measure.
        for (int round = 0; round < 2; round++)
        {
            long sink = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++)
            {
                sink += call();
            }

            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            cleanup?.Invoke();
            if (round == 1)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-34} {allocated / (double)calls,10:F1} B/call {elapsed.TotalNanoseconds / calls,12:F1} ns/call  (sink {sink})"));
            }
        }
    }

    /// <summary>Allocate + Refresh(0) pairs without purging the timers: what do freed allocations keep alive?</summary>
    private static void Retention()
    {
        const int Pairs = 16_384;
        var pair = new AllocateBenchmarks();
        pair.SetupPair();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < Pairs; i++)
        {
            pair.AllocateThenRefreshZero();
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        pair.PurgeTimers();
        long purged = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Retention: {Pairs} allocations made and freed (Refresh 0), fixed clock: live heap +{(after - before) / 1024.0:F0} KiB = {(after - before) / (double)Pairs:F0} B per freed allocation; after the timers run past the deadlines: +{(purged - before) / 1024.0:F0} KiB"));
    }
}
