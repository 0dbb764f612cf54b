using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Relay.Core.Auth;

namespace Relay.Web.Credentials;

/// <summary>
/// <c>firezone-relay credentials --secret … [--salt …] [--ttl …]</c>: mints a username/password pair the relay
/// accepts, so an operator can test a standalone relay with any TURN client.
/// </summary>
public static class CredentialsCommand
{
    public static Command Create(Func<string, string?> environment)
    {
        var secret = new Option<string>("--secret") { Description = "The relay's credential secret [env: RELAY_SECRET]" };
        var salt = new Option<string>("--salt", "--user") { Description = "Salt (firezone) or user name (turn-rest). Default: random." };
        var ttl = new Option<int>("--ttl") { Description = "Seconds until the credentials expire.", DefaultValueFactory = _ => 86400 };
        var scheme = new Option<string>("--auth-scheme") { Description = "firezone or turn-rest [env: AUTH_SCHEME]" };
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
                Console.Error.WriteLine("error: --secret (RELAY_SECRET) is required: it is the secret the relay was started with");
                return 2;
            }

            string schemeText = parse.GetValue(scheme) ?? environment("AUTH_SCHEME") ?? "firezone";
            AuthScheme? authScheme = schemeText switch { "firezone" => AuthScheme.Firezone, "turn-rest" => AuthScheme.TurnRest, _ => null };
            if (authScheme is null)
            {
                Console.Error.WriteLine($"error: --auth-scheme: '{schemeText}' is not firezone or turn-rest");
                return 2;
            }

            int seconds = parse.GetValue(ttl);
            if (seconds <= 0)
            {
                Console.Error.WriteLine($"error: --ttl: {seconds} must be a positive number of seconds");
                return 2;
            }

            string user = parse.GetValue(salt) ?? RandomSalt();
            var minted = CredentialScheme.Create(authScheme.Value, secretValue)
                .Mint(user, DateTimeOffset.UtcNow.AddSeconds(seconds), parse.GetValue(realm) ?? environment("REALM") ?? "firezone");
            Console.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new { username = minted.Username, password = minted.Password, realm = minted.Realm, expiresAt = minted.ExpiresAt })
                : string.Create(CultureInfo.InvariantCulture, $"username: {minted.Username}\npassword: {minted.Password}\nrealm: {minted.Realm}\nexpires: {minted.ExpiresAt:O}"));
            return 0;
        });
        return command;
    }

    public static string RandomSalt() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('+', '-').Replace('/', '_');
}
