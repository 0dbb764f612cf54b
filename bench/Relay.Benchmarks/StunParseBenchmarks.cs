using BenchmarkDotNet.Attributes;
using Relay.Benchmarks.Support;
using Relay.Core.Stun;

namespace Relay.Benchmarks;

/// <summary>
/// 7. The STUN codec alone, on a typical authenticated Allocate as a client sends it (144 bytes: REQUESTED-TRANSPORT,
/// USERNAME, REALM, NONCE, MESSAGE-INTEGRITY, FINGERPRINT). <see cref="ParseStunMessage"/> is TryParse (which checks
/// the FINGERPRINT CRC) plus the HMAC-SHA1 MESSAGE-INTEGRITY check with an already derived long-term key;
/// <see cref="ParseStunMessageWithoutIntegrity"/> is TryParse alone, to split the two.
/// </summary>
[MemoryDiagnoser]
public class StunParseBenchmarks
{
    private byte[] _allocate = null!;
    private byte[] _key = null!;

    [GlobalSetup]
    public void Setup()
    {
        var server = BenchRelay.Create();
        var client = new BenchClient(server, BenchRelay.ClientA, "n23JJ2wKKtt30oXi", BenchRelay.Now);
        client.Challenge();
        _allocate = client.Sign(BenchClient.AllocateRequest(StunRequest.TransactionId(0x9A25_0000, 1)));
        _key = client.Key;
        if (_allocate.Length != 144 || !ParseStunMessage())
        {
            throw new InvalidOperationException($"Benchmark setup: the {_allocate.Length}-byte Allocate is not the expected 144 bytes or does not verify.");
        }
    }

    [Benchmark]
    public bool ParseStunMessage() =>
        StunMessage.TryParse(_allocate, out StunMessage message) == StunParseResult.Ok && StunIntegrity.Verify(message, _key, out _);

    [Benchmark]
    public int ParseStunMessageWithoutIntegrity() =>
        StunMessage.TryParse(_allocate, out StunMessage message) == StunParseResult.Ok ? message.IntegrityOffset : -1;
}
