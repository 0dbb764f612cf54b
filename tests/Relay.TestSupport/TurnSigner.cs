using Relay.Core.Auth;
using Relay.Core.Stun;

namespace Relay.TestSupport;

/// <summary>Long-term credentials of a test client and the signing of its requests.</summary>
public sealed class TurnSigner
{
    public TurnSigner(AuthScheme scheme, string secret, string user, long expiry, string realm = "firezone")
    {
        Username = $"{expiry}:{user}";
        Password = scheme == AuthScheme.Firezone
            ? FirezoneCredentials.GeneratePassword(secret, (ulong)expiry, user)
            : TurnRestCredentials.GeneratePassword(secret, Username);
        Realm = realm;
    }

    public string Username { get; set; }

    public string Password { get; set; }

    public string Realm { get; set; }

    public string? Nonce { get; set; }

    public byte[] Key => StunIntegrity.LongTermKey(Username, Realm, Password);

    /// <summary>Adds USERNAME, REALM and NONCE and signs (the nonce must be known).</summary>
    public byte[] Sign(MessageSpec spec, IntegrityKind kind = IntegrityKind.Sha1, bool fingerprint = false)
    {
        if (Nonce is null)
        {
            throw new InvalidOperationException("No nonce yet: send an unauthenticated request first.");
        }

        spec.Add(StunAttr.Username, Username).Add(StunAttr.Realm, Realm).Add(StunAttr.Nonce, Nonce);
        return spec.Build(Key, kind, fingerprint);
    }
}
