using System.CommandLine;
using Relay.Web.Configuration;
using Relay.Web.Credentials;
using Relay.Web.Health;
using Relay.Web.Udp;

namespace Relay.Web;

/// <summary>
/// The <c>firezone-relay</c> command line: one flag per setting (with its environment variables and
/// <c>--config FILE</c> underneath), positional TOKEN and NAME for compatibility with the reference, and the
/// <c>credentials</c>, <c>healthcheck</c> and <c>config-reference</c> subcommands. Exit codes: 0 after a clean shutdown, 1 for an
/// unknown or malformed flag, 2 for invalid settings or a failed start, 3 when the portal refuses the relay (bad
/// token, join error, token expired) or cannot be joined in time.
/// </summary>
public static class RelayCommandLine
{
    private static readonly HashSet<string> HostKeys = new(StringComparer.OrdinalIgnoreCase) { "environment", "contentRoot", "applicationName", "urls" };

    public static int Run(string[] args, Func<string, string?>? environment = null, Action<WebApplicationBuilder>? customize = null)
    {
        environment ??= Environment.GetEnvironmentVariable;

        // ASP.NET Core configuration arguments ("--Relay:listen-port=0", "--environment=Development"; what test hosts
        // pass) go to the host's configuration; everything else must be a known flag.
        string[] hostArgs = args.Where(IsHostConfiguration).ToArray();
        args = args.Where(a => !IsHostConfiguration(a)).ToArray();
        var flags = Setting.All.Select(s => (Setting: s, Option: CreateOption(s))).ToList();
        var config = new Option<string>(SettingSources.ConfigFlag)
        {
            Description = $"Configuration file: key=value lines with the flags' names as keys; flags and environment variables override it [env: {SettingSources.ConfigEnvironment}]",
        };
        // TOKEN and NAME, the reference's positional arguments, are read from the unmatched tokens rather than
        // declared: declared, they would show in the usage line of every subcommand too.
        var root = new RootCommand("firezone-relay [TOKEN [NAME]]: a STUN/TURN relay compatible with Firezone's. TOKEN and NAME are the portal token "
            + "and relay name (prefer FIREZONE_TOKEN and FIREZONE_NAME); without a portal token the relay runs standalone.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var (_, option) in flags)
        {
            root.Options.Add(option);
        }

        root.Options.Add(config);
        root.Subcommands.Add(CredentialsCommand.Create(environment));
        root.Subcommands.Add(HealthCheckCommand.Create(environment));
        var reference = new Command("config-reference", "Print the configuration reference (docs/configuration.md) generated from the settings' definitions.");
        reference.SetAction(_ => Console.Write(ConfigurationReference.Markdown()));
        root.Subcommands.Add(reference);
        root.SetAction(parse =>
        {
            IReadOnlyList<string> positional = parse.UnmatchedTokens;
            if (positional.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            {
                Console.Error.WriteLine($"error: unrecognized option '{unknown}' (see firezone-relay --help)");
                return 1;
            }

            if (positional.Count > 2)
            {
                Console.Error.WriteLine($"error: unexpected argument '{positional[2]}': firezone-relay takes at most TOKEN and NAME");
                return 1;
            }

            var commandLine = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (setting, option) in flags)
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    commandLine[setting.Key] = option switch
                    {
                        Option<bool> flag => parse.GetValue(flag) ? "true" : "false",
                        Option<string[]> list => string.Join(',', parse.GetValue(list) ?? []),
                        _ => parse.GetValue((Option<string>)option) ?? string.Empty,
                    };
                }
            }

            if (positional.Count > 0)
            {
                commandLine[Setting.Of(nameof(RelaySettings.Token)).Key] = positional[0];
            }

            if (positional.Count > 1)
            {
                commandLine[Setting.Of(nameof(RelaySettings.Name)).Key] = positional[1];
            }

            var errors = new List<string>();
            string? file = parse.GetValue(config) ?? (environment(SettingSources.ConfigEnvironment) is { Length: > 0 } fromEnvironment ? fromEnvironment : null);
            var values = SettingSources.Merge(commandLine, file, environment, errors);
            if (errors.Count == 0)
            {
                SettingsLoader.Load(values, out errors, out _);
            }

            if (errors.Count > 0)
            {
                foreach (string error in errors)
                {
                    Console.Error.WriteLine("error: " + error);
                }

                return 2;
            }

            return RunRelay(values, hostArgs, customize);
        });
        return root.Parse(args).Invoke();
    }

    /// <summary>
    /// A taken health or admin port, found before the host starts so the message names the setting (Kestrel's own
    /// failure would not); a race with another program is still reported when Kestrel binds.
    /// </summary>
    internal static IEnumerable<string> ListenerProblems(RelaySettings settings)
    {
        var endpoints = new (string Property, System.Net.IPEndPoint Endpoint)[]
        {
            (nameof(RelaySettings.HealthCheckEndpoint), settings.HealthCheckEndpoint),
            (nameof(RelaySettings.ControlEndpoint), settings.ControlEndpoint),
        };
        foreach (var (property, endpoint) in endpoints.DistinctBy(e => e.Endpoint))
        {
            if (endpoint.Port != 0 && TryListen(endpoint) is { } problem)
            {
                yield return $"{Setting.Of(property).Display}: cannot listen on {endpoint} ({problem})";
            }
        }

        static string? TryListen(System.Net.IPEndPoint endpoint)
        {
            try
            {
                using var probe = new System.Net.Sockets.Socket(endpoint.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                probe.Bind(endpoint);
                return null;
            }
            catch (System.Net.Sockets.SocketException failure)
            {
                return failure.Message.TrimEnd('.').ToLowerInvariant();
            }
        }
    }

    private static Option CreateOption(Setting setting)
    {
        string help = ConfigurationReference.Describe(setting)
            + (setting.Default is { } value && !setting.IsSwitch ? $" Default: {value}." : string.Empty)
            + (setting.Environment.Length == 0 ? string.Empty : $" [env: {string.Join(", ", setting.Environment)}]");
        if (setting.IsSwitch)
        {
            return new Option<bool>(setting.Flag) { Description = help };
        }

        return setting.IsRepeatable
            ? new Option<string[]>(setting.Flag) { Description = help + " Repeatable.", AllowMultipleArgumentsPerToken = false }
            : new Option<string>(setting.Flag) { Description = help };
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
        return key.Contains(':', StringComparison.Ordinal) || HostKeys.Contains(key) || key.Equals(RelayApp.SettingsSection, StringComparison.OrdinalIgnoreCase)
            || key.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_');
    }

    private static int RunRelay(Dictionary<string, SettingValue> values, string[] hostArgs, Action<WebApplicationBuilder>? customize)
    {
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
        catch (Exception exception) when (Unwrap(exception) is RelayConfigurationException configuration)
        {
            foreach (string error in configuration.Errors)
            {
                Console.Error.WriteLine("error: " + error);
            }

            return 2;
        }
        catch (Exception exception) when (Unwrap(exception) is RelayStartupException or IOException)
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
