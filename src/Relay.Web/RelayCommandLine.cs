using System.CommandLine;
using Relay.Web.Configuration;
using Relay.Web.Credentials;
using Relay.Web.Udp;

namespace Relay.Web;

/// <summary>
/// The <c>firezone-relay</c> command line: flags with environment fallbacks and <c>--help</c>, positional TOKEN and
/// NAME for compatibility with the reference, and the <c>credentials</c> subcommand. Exit codes: 0 after a clean
/// shutdown, 1 for an unknown or malformed flag, 2 for invalid settings or a failed start, 3 when the portal refuses
/// the relay (bad token, join error, token expired) or cannot be joined in time.
/// </summary>
public static class RelayCommandLine
{
    private static readonly HashSet<string> HostKeys = new(StringComparer.OrdinalIgnoreCase) { "environment", "contentRoot", "applicationName", "urls" };

    public static int Run(string[] args, Func<string, string?>? environment = null, Action<WebApplicationBuilder>? customize = null)
    {
        environment ??= Environment.GetEnvironmentVariable;

        // ASP.NET Core configuration arguments ("--Relay:ListenPort=0", "--environment=Development"; what test hosts
        // pass) go to the host's configuration; everything else must be a known flag.
        string[] hostArgs = args.Where(IsHostConfiguration).ToArray();
        args = args.Where(a => !IsHostConfiguration(a)).ToArray();
        var flags = RelayFlags.CreateOptions();
        var token = new Argument<string?>("TOKEN") { Arity = ArgumentArity.ZeroOrOne, Description = "Portal token (prefer FIREZONE_TOKEN)." };
        var name = new Argument<string?>("NAME") { Arity = ArgumentArity.ZeroOrOne, Description = "Relay name (prefer FIREZONE_NAME)." };
        foreach (var argument in new[] { token, name })
        {
            argument.Validators.Add(result =>
            {
                if (result.Tokens.Count > 0 && result.Tokens[0].Value.StartsWith('-'))
                {
                    result.AddError($"Unrecognized option '{result.Tokens[0].Value}'.");
                }
            });
        }

        var root = new RootCommand("firezone-relay: a STUN/TURN relay compatible with Firezone's. Without a portal token it runs standalone.");
        foreach (var (_, option) in flags)
        {
            root.Options.Add(option);
        }

        root.Arguments.Add(token);
        root.Arguments.Add(name);
        root.Subcommands.Add(CredentialsCommand.Create(environment));
        root.SetAction(parse =>
        {
            var values = RelayFlags.ToConfiguration(parse, flags, environment);
            if (parse.GetValue(token) is { } t)
            {
                values[$"{RelayOptions.Section}:{nameof(RelayOptions.Token)}"] = t;
            }

            if (parse.GetValue(name) is { } n)
            {
                values[$"{RelayOptions.Section}:{nameof(RelayOptions.Name)}"] = n;
            }

            return RunRelay(values, hostArgs, customize);
        });
        return root.Parse(args).Invoke();
    }

    private static bool IsHostConfiguration(string arg)
    {
        int eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (!arg.StartsWith("--", StringComparison.Ordinal) || eq <= 2)
        {
            return false;
        }

        // Sectioned keys, the host's own keys, and environment-style names (OTEL_SERVICE_NAME...): none can be a
        // misspelt flag, since flags are lower-case.
        string key = arg[2..eq];
        return key.Contains(':', StringComparison.Ordinal) || HostKeys.Contains(key) || key.Equals(RelayOptions.Section, StringComparison.OrdinalIgnoreCase)
            || key.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_');
    }

    private static int RunRelay(Dictionary<string, string?> values, string[] hostArgs, Action<WebApplicationBuilder>? customize)
    {
        // Validate up front so a bad flag stops the relay with every problem listed, before anything binds.
        var options = new RelayOptions();
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(RelayOptions.Section).Bind(options);
        if (RelaySettings.Parse(options, out var errors) is null)
        {
            foreach (string error in errors)
            {
                Console.Error.WriteLine("error: " + error);
            }

            return 2;
        }

        try
        {
            using var app = RelayApp.Build(values, hostArgs, customize);
            var runtime = app.Services.GetRequiredService<RelayRuntime>(); // before Run: it disposes the container
            app.Run();
            if (runtime.ExitCode != 0)
            {
                Console.Error.WriteLine("error: " + runtime.ExitReason);
            }

            return runtime.ExitCode;
        }
        catch (Exception exception) when (Unwrap(exception) is RelayStartupException or RelayConfigurationException or IOException)
        {
            Console.Error.WriteLine("error: " + Unwrap(exception).Message);
            return 2;
        }
        catch (Exception exception) when (exception is not HostAbortedException)
        {
            Console.Error.WriteLine("error: the relay failed to start: " + exception);
            return 2;
        }
    }

    private static Exception Unwrap(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : exception;
}
