using System.Text;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Randomness;
using Relay.Core.Time;

namespace Relay.Core.Tests.Auth;

public class NonceTests
{
    private static readonly ClientSocket Alice = ClientSocket.Parse("198.51.100.7:4000");
    private static readonly ClientSocket Bob = ClientSocket.Parse("198.51.100.8:4000");
    private static readonly Instant T0 = Instant.FromUnixSeconds(1_700_000_123);

    private static StatelessNonces Create() => new(new SeededRandom(1), TimeSpan.FromSeconds(600));

    private static NonceVerdict Verify(StatelessNonces nonces, string nonce, ClientSocket client, Instant now) =>
        nonces.Verify(Encoding.ASCII.GetBytes(nonce), client, now);

    [Fact]
    public void A_fresh_nonce_is_valid_for_its_client_only()
    {
        var nonces = Create();
        string nonce = nonces.Issue(Alice, T0);
        Assert.Equal(StatelessNonces.Length, nonce.Length);
        Assert.Equal(NonceVerdict.Valid, Verify(nonces, nonce, Alice, T0 + TimeSpan.FromSeconds(599)));
        Assert.Equal(NonceVerdict.Invalid, Verify(nonces, nonce, Bob, T0));
        Assert.Equal(NonceVerdict.Invalid, Verify(nonces, nonce, ClientSocket.Parse("198.51.100.7:4001"), T0));
    }

    [Fact]
    public void A_nonce_goes_stale_after_its_lifetime_even_across_key_rotation()
    {
        var nonces = Create();
        string nonce = nonces.Issue(Alice, T0);
        Assert.Equal(NonceVerdict.Stale, Verify(nonces, nonce, Alice, T0 + TimeSpan.FromSeconds(600)));
        Assert.Equal(NonceVerdict.Stale, Verify(nonces, nonce, Alice, T0 + TimeSpan.FromDays(3)));
    }

    [Fact]
    public void Altered_or_foreign_nonces_are_invalid()
    {
        var nonces = Create();
        string nonce = nonces.Issue(Alice, T0);
        char[] altered = nonce.ToCharArray();
        altered[^1] = altered[^1] == '0' ? '1' : '0';
        Assert.Equal(NonceVerdict.Invalid, Verify(nonces, new string(altered), Alice, T0));
        Assert.Equal(NonceVerdict.Invalid, Verify(nonces, "f//499k954d6OL34oL9FSTvy64sA", Alice, T0));
        Assert.Equal(NonceVerdict.Invalid, Verify(nonces, nonce.ToUpperInvariant(), Alice, T0));

        // A relay with another key (a restart, or another relay) does not accept it.
        var other = new StatelessNonces(new SeededRandom(2), TimeSpan.FromSeconds(600));
        Assert.NotEqual(NonceVerdict.Valid, Verify(other, nonce, Alice, T0));
    }

    [Fact]
    public void Nonces_from_the_future_are_not_valid()
    {
        var nonces = Create();
        string nonce = nonces.Issue(Alice, T0 + TimeSpan.FromSeconds(30));
        Assert.NotEqual(NonceVerdict.Valid, Verify(nonces, nonce, Alice, T0));
    }
}
