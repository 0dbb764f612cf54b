using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Credentials;

/// <summary>
/// In standalone mode (no portal), tells the operator how to get credentials: one sample pair valid for 24 hours
/// and the command that mints more. The secret itself is never logged.
/// </summary>
internal sealed partial class StandaloneAnnouncer : IHostedService
{
    private readonly RelaySettings _settings;
    private readonly RelayRuntime _runtime;
    private readonly ILogger<StandaloneAnnouncer> _logger;

    public StandaloneAnnouncer(RelaySettings settings, RelayRuntime runtime, ILogger<StandaloneAnnouncer> logger)
    {
        _settings = settings;
        _runtime = runtime;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_settings.PortalMode || _runtime.Engine is not { } engine)
        {
            return Task.CompletedTask;
        }

        var sample = engine.Credentials.Mint(CredentialsCommand.RandomSalt(), DateTimeOffset.UtcNow.AddHours(24), _settings.Realm);
        string address = _runtime.PublicIp4?.ToString() ?? $"[{_runtime.PublicIp6}]";
        LogStandalone(_logger, sample.Username, sample.Password, address, _runtime.ListenPort);
        if (_settings.RelaySecret is null)
        {
            LogGeneratedSecret(_logger);
        }
        else
        {
            LogMintCommand(_logger, _settings.AuthScheme == Relay.Core.Auth.AuthScheme.TurnRest ? "turn-rest" : "firezone");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Standalone mode (no portal token). Test credentials valid for 24 h: username {Username} password {Password} (for example: turnutils_uclient -u <username> -w <password> -e <peer address> -p {Port} {Address})")]
    private static partial void LogStandalone(ILogger logger, string username, string password, string address, ushort port);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "The credential secret was generated for this run only; set RELAY_SECRET to keep credentials valid across restarts and mint more with 'firezone-relay credentials --secret $RELAY_SECRET'")]
    private static partial void LogGeneratedSecret(ILogger logger);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Mint more credentials with 'firezone-relay credentials --secret $RELAY_SECRET --auth-scheme {Scheme}'")]
    private static partial void LogMintCommand(ILogger logger, string scheme);
}
