using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Relay.Core.Auth;
using Relay.Web.Configuration;

namespace Relay.Web.Credentials;

/// <summary>
/// <c>firezone-relay credentials --secret … [--salt …] [--ttl …]</c>: mints a username/password pair the relay
/// accepts, so an operator can test a standalone relay with any TURN client. It checks secret, salt and lifetime
/// with the same rules as the relay's settings and its admin API (<see cref="CredentialRules"/>).
/// </summary>
public static class CredentialsCommand
{
    public static Command Create(Func<string, string?> environment)
    {
        var secret = new Option<string>("--secret") { Description = "The relay's credential secret (64 hex characters for firezone, 8 or more for turn-rest) [env: RELAY_SECRET]" };
        var salt = new Option<string>("--salt", "--user") { Description = "Salt (firezone; no ':') or user name (turn-rest). Default: random." };
        var ttl = new Option<int>("--ttl")
        {
            Description = $"Seconds until the credentials expire, {CredentialRules.MinTtlSeconds} to {CredentialRules.MaxTtlSeconds}.",
            DefaultValueFactory = _ => 86400,
        };
        var scheme = new Option<string>("--auth-scheme") { Description = "firezone or turn-rest, as the relay runs [env: AUTH_SCHEME]. Default: firezone." };
        var realm = new Option<string>("--realm") { Description = "Realm [env: REALM]. Default: firezone." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("credentials", "Mint TURN credentials for this relay's secret and print them.")
        {
            secret, salt, ttl, scheme, realm, json,
        };

        command.SetAction(parse =>
        {
            string? secretValue = parse.GetValue(secret) ?? environment("RELAY_SECRET");
            if (string.IsNullOrEmpty(secretValue))
            {
                return Fail("--secret (RELAY_SECRET) is required: it is the secret the relay was started with");
            }

            if (!new ChoiceParser<AuthScheme>().TryParse(parse.GetValue(scheme) ?? environment("AUTH_SCHEME") ?? "firezone", out object? parsedScheme, out string? schemeError))
            {
                return Fail($"--auth-scheme (AUTH_SCHEME): {schemeError}");
            }

            var authScheme = (AuthScheme)parsedScheme!;
            if (CredentialRules.CheckSecret(authScheme, secretValue) is { } secretProblem)
            {
                return Fail($"--secret (RELAY_SECRET): {secretProblem}");
            }

            int seconds = parse.GetValue(ttl);
            if (CredentialRules.CheckTtl(seconds) is { } ttlProblem)
            {
                return Fail($"--ttl: {ttlProblem}");
            }

            if (!new RealmParser().TryParse(parse.GetValue(realm) ?? environment("REALM") ?? "firezone", out object? realmValue, out string? realmError))
            {
                return Fail($"--realm (REALM): {realmError}");
            }

            string user = parse.GetValue(salt) ?? RandomSalt();
            DateTimeOffset expiresAt = DateTimeOffset.UtcNow.AddSeconds(seconds);
            if (CredentialRules.CheckUser(authScheme, user, expiresAt) is { } userProblem)
            {
                return Fail($"--salt: {userProblem}");
            }

            var minted = CredentialScheme.Create(authScheme, secretValue).Mint(user, expiresAt, (string)realmValue!);
            Console.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new { username = minted.Username, password = minted.Password, realm = minted.Realm, expiresAt = minted.ExpiresAt })
                : string.Create(CultureInfo.InvariantCulture, $"username: {minted.Username}\npassword: {minted.Password}\nrealm: {minted.Realm}\nexpires: {minted.ExpiresAt:O}"));
            return 0;
        });
        return command;
    }

    public static string RandomSalt() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('+', '-').Replace('/', '_');

    private static int Fail(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return 2;
    }
}
