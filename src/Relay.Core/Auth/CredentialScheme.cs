using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Relay.Core.Time;

namespace Relay.Core.Auth;

/// <summary>Which shared-secret credential scheme the relay accepts.</summary>
public enum AuthScheme
{
    /// <summary>Firezone: username <c>{expiry}:{salt}</c>, password = base64(SHA-256("{expiry}:{secret}:{salt}")).</summary>
    Firezone,

    /// <summary>TURN REST (coturn <c>--use-auth-secret</c>): username <c>{expiry}:{user}</c>, password = base64(HMAC-SHA1(secret, username)).</summary>
    TurnRest,
}

/// <summary>Why a username was refused (logged and counted; the client only ever sees 401).</summary>
public enum CredentialFailure
{
    None,
    InvalidUsername,
    Expired,
}

/// <summary>A time-limited username/password pair minted for a client, as the portal or the admin API hands out.</summary>
public sealed record MintedCredentials(string Username, string Password, string Realm, DateTimeOffset ExpiresAt);

/// <summary>
/// Derives the password for a username from the relay secret. Neither scheme stores users: the username carries its
/// own expiry and the password is a function of (secret, username), so any relay sharing the secret accepts it.
/// </summary>
public abstract class CredentialScheme
{
    protected CredentialScheme(string secret) => Secret = secret;

    public string Secret { get; }

    public abstract AuthScheme Scheme { get; }

    /// <summary>
    /// Firezone allows one allocation per username (a new one replaces the old, for NATs that flip ports); TURN REST
    /// allows several, counted against a quota keyed on the user part.
    /// </summary>
    public abstract bool OneAllocationPerUsername { get; }

    public static CredentialScheme Create(AuthScheme scheme, string secret) => scheme switch
    {
        AuthScheme.Firezone => new FirezoneCredentials(secret),
        AuthScheme.TurnRest => new TurnRestCredentials(secret),
        _ => throw new ArgumentOutOfRangeException(nameof(scheme)),
    };

    /// <summary>Returns the password for <paramref name="username"/>, or why there is none at <paramref name="now"/>.</summary>
    public CredentialFailure TryGetPassword(string username, Instant now, out string password)
    {
        password = string.Empty;
        int colon = username.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !ulong.TryParse(username.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out ulong expiry)
            || !IsValidRest(username.AsSpan(colon + 1)))
        {
            return CredentialFailure.InvalidUsername;
        }

        if (expiry < (ulong)Math.Max(0, now.UnixSeconds))
        {
            return CredentialFailure.Expired;
        }

        password = DerivePassword(username, expiry, username[(colon + 1)..]);
        return CredentialFailure.None;
    }

    /// <summary>The key allocation quotas are counted on.</summary>
    public abstract string QuotaKey(string username);

    /// <summary>Mints credentials valid until <paramref name="expiresAt"/> for <paramref name="user"/> (salt or user name).</summary>
    public MintedCredentials Mint(string user, DateTimeOffset expiresAt, string realm)
    {
        long expiry = expiresAt.ToUnixTimeSeconds();
        string username = $"{expiry.ToString(CultureInfo.InvariantCulture)}:{user}";
        return new MintedCredentials(username, DerivePassword(username, (ulong)expiry, user), realm, DateTimeOffset.FromUnixTimeSeconds(expiry));
    }

    protected abstract bool IsValidRest(ReadOnlySpan<char> rest);

    protected abstract string DerivePassword(string username, ulong expiry, string rest);
}

public sealed class FirezoneCredentials : CredentialScheme
{
    public FirezoneCredentials(string secret) : base(secret)
    {
    }

    public override AuthScheme Scheme => AuthScheme.Firezone;

    public override bool OneAllocationPerUsername => true;

    public override string QuotaKey(string username) => username;

    /// <summary>base64 (standard alphabet, no padding) of SHA-256("{expiry}:{secret}:{salt}"). Not an HMAC.</summary>
    public static string GeneratePassword(string secret, ulong expiry, string salt)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{expiry.ToString(CultureInfo.InvariantCulture)}:{secret}:{salt}"));
        return Convert.ToBase64String(hash).TrimEnd('=');
    }

    // Exactly one ':' in the whole username, as the reference's split_username requires.
    protected override bool IsValidRest(ReadOnlySpan<char> rest) => !rest.Contains(':');

    protected override string DerivePassword(string username, ulong expiry, string rest) => GeneratePassword(Secret, expiry, rest);
}

public sealed class TurnRestCredentials : CredentialScheme
{
    public TurnRestCredentials(string secret) : base(secret)
    {
    }

    public override AuthScheme Scheme => AuthScheme.TurnRest;

    public override bool OneAllocationPerUsername => false;

    /// <summary>The user part: <c>1700000000:alice</c> and <c>1700003600:alice</c> share one quota.</summary>
    public override string QuotaKey(string username) => username[(username.IndexOf(':', StringComparison.Ordinal) + 1)..];

    /// <summary>base64 (with padding) of HMAC-SHA1(secret, username), coturn's <c>--use-auth-secret</c>.</summary>
    public static string GeneratePassword(string secret, string username) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));

    protected override bool IsValidRest(ReadOnlySpan<char> rest) => true;

    protected override string DerivePassword(string username, ulong expiry, string rest) => GeneratePassword(Secret, username);
}
