using System.Globalization;
using System.Text;

namespace Relay.Core.Auth;

/// <summary>
/// What a relay secret, a salt or user name and a credential lifetime must be. The relay's settings, its admin API
/// and the <c>credentials</c> command all check with these, so none of them mints what the relay would refuse.
/// </summary>
public static class CredentialRules
{
    /// <summary>The longest USERNAME the relay accepts, in UTF-8 bytes (RFC 5389 §15.3: fewer than 513).</summary>
    public const int MaxUsernameBytes = 513;

    public const int MinTtlSeconds = 60;

    public const int MaxTtlSeconds = 31_536_000;

    /// <summary>The problem with <paramref name="secret"/> for <paramref name="scheme"/>, or null.</summary>
    public static string? CheckSecret(AuthScheme scheme, string secret) => scheme switch
    {
        AuthScheme.Firezone when secret.Length != 64 || !secret.All(Uri.IsHexDigit) => "the firezone scheme's secret is 64 hex characters (32 random bytes)",
        AuthScheme.TurnRest when secret.Length < 8 => "must be at least 8 characters",
        _ => null,
    };

    /// <summary>The problem with minting for <paramref name="user"/> (salt or user name) until <paramref name="expiresAt"/>, or null.</summary>
    public static string? CheckUser(AuthScheme scheme, string user, DateTimeOffset expiresAt)
    {
        if (user.Length == 0)
        {
            return "must not be empty";
        }

        if (scheme == AuthScheme.Firezone && user.Contains(':', StringComparison.Ordinal))
        {
            return "must not contain ':' in the firezone scheme (its usernames are <expiry>:<salt> with exactly one ':')";
        }

        string username = $"{expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}:{user}";
        int bytes = Encoding.UTF8.GetByteCount(username);
        return bytes > MaxUsernameBytes ? $"makes a username of {bytes} bytes; STUN usernames are at most {MaxUsernameBytes}" : null;
    }

    /// <summary>The problem with a lifetime of <paramref name="seconds"/>, or null.</summary>
    public static string? CheckTtl(long seconds) =>
        seconds is < MinTtlSeconds or > MaxTtlSeconds ? $"must be between {MinTtlSeconds} and {MaxTtlSeconds} seconds; it was {seconds}" : null;
}
