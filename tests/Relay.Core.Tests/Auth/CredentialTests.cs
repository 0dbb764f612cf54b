using System.Text;
using Relay.Core.Auth;
using Relay.Core.Stun;
using Relay.Core.Tests.Support;
using Relay.TestSupport;
using Relay.Core.Time;

namespace Relay.Core.Tests.Auth;

/// <summary>The Firezone credential vectors of the reference (proto/src/auth.rs) and the TURN REST scheme.</summary>
public class CredentialTests
{
    private const string RelaySecret1 = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
    private const string RelaySecret2 = "7e35e34801e766a6a29ecb9e22810ea4e3476c2b37bf75882edf94a68b1d9607";
    private const string SampleUsername = "n23JJ2wKKtt30oXi";

    [Fact]
    public void Generate_password_test_vector() =>
        Assert.Equal("00hqldgk5xLeKKOB+xls9mHMVtgqzie9DulfgQwMv68",
            FirezoneCredentials.GeneratePassword(RelaySecret1, 60UL * 60 * 24 * 365 * 60, SampleUsername));

    [Fact]
    public void Generate_password_test_vector_elixir() =>
        Assert.Equal("6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg",
            FirezoneCredentials.GeneratePassword("1cab293a-4032-46f4-862a-40e5d174b0d2", 1685984278, "uvdgKvS9GXYZ_vmv"));

    [Fact]
    public void Smoke_message_integrity_verifies_before_expiry()
    {
        var scheme = new FirezoneCredentials(RelaySecret1);
        string username = $"1685200000:{SampleUsername}";
        Assert.Equal(CredentialFailure.None, scheme.TryGetPassword(username, Instant.FromUnixSeconds(1685200000 - 1000), out string password));

        byte[] key = StunIntegrity.LongTermKey(username, "firezone", password);
        byte[] message = new MessageSpec(StunMethod.Binding, transactionId: new byte[12]).Add(StunAttr.Username, username).Build(key);
        StunMessage.TryParse(message, out var parsed);
        Assert.True(StunIntegrity.Verify(parsed, key, out _));
    }

    [Fact]
    public void Expired_is_not_valid() =>
        Assert.Equal(CredentialFailure.Expired,
            new FirezoneCredentials(RelaySecret1).TryGetPassword($"1685199000:{SampleUsername}", Instant.FromUnixSeconds(1685200000), out _));

    [Fact]
    public void Different_relay_secret_makes_password_invalid()
    {
        string username = $"1685200000:{SampleUsername}";
        var now = Instant.FromUnixSeconds(1685200000 - 1000);
        new FirezoneCredentials(RelaySecret1).TryGetPassword(username, now, out string password1);
        new FirezoneCredentials(RelaySecret2).TryGetPassword(username, now, out string password2);
        Assert.NotEqual(password1, password2);
    }

    [Theory]
    [InlineData("foobar")]
    [InlineData(":salt")]
    [InlineData("-5:salt")]
    [InlineData("1.5:salt")]
    [InlineData("1685200000:salt:extra")] // exactly one ':' in the Firezone scheme
    public void Invalid_username_format_fails(string username) =>
        Assert.Equal(CredentialFailure.InvalidUsername, new FirezoneCredentials(RelaySecret1).TryGetPassword(username, Instant.FromUnixSeconds(0), out _));

    [Fact]
    public void Portal_wire_log_example_has_the_portal_format()
    {
        // From a portal log (issue #5531): username "{expiry}:{salt}", password 43 chars of unpadded base64.
        const string password = "Ce9/pCJRwLbI10qInq4hVM7wd5q3EWdX/FJHYm3ANr8";
        Assert.Equal(43, password.Length);
        Assert.Equal(32, Convert.FromBase64String(password + "=").Length);
        Assert.Equal(CredentialFailure.None, new FirezoneCredentials(RelaySecret1).TryGetPassword("1720498974:jlEQuoSq3uh5p9t3JrfXow", Instant.FromUnixSeconds(1720498974), out string derived));
        Assert.Equal(43, derived.Length);
    }

    [Fact]
    public void Turn_rest_password_is_base64_hmac_sha1_of_the_username()
    {
        // openssl: printf %s '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
        string expected = Convert.ToBase64String(System.Security.Cryptography.HMACSHA1.HashData(Encoding.UTF8.GetBytes("secret"), Encoding.UTF8.GetBytes("1700000000:alice")));
        Assert.Equal(expected, TurnRestCredentials.GeneratePassword("secret", "1700000000:alice"));
        var scheme = new TurnRestCredentials("secret");
        Assert.Equal(CredentialFailure.None, scheme.TryGetPassword("1700000000:alice", Instant.FromUnixSeconds(1600000000), out string password));
        Assert.Equal(expected, password);
        Assert.Equal(CredentialFailure.None, scheme.TryGetPassword("1700000000:a:b", Instant.FromUnixSeconds(1600000000), out _));
        Assert.Equal("a:b", scheme.QuotaKey("1700000000:a:b"));
        Assert.Equal(CredentialFailure.Expired, scheme.TryGetPassword("1700000000:alice", Instant.FromUnixSeconds(1700000001), out _));
    }

    [Fact]
    public void Minted_credentials_verify()
    {
        var scheme = new FirezoneCredentials(RelaySecret1);
        var minted = scheme.Mint("salt", DateTimeOffset.FromUnixTimeSeconds(1800000000), "firezone");
        Assert.Equal("1800000000:salt", minted.Username);
        Assert.Equal(FirezoneCredentials.GeneratePassword(RelaySecret1, 1800000000, "salt"), minted.Password);
    }
}
