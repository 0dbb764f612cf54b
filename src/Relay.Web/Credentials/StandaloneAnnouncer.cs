using System.Net;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Credentials;

/// <summary>
/// In standalone mode (no portal), tells the operator how to try the relay: one sample credential valid for 24
/// hours, and coturn's client and echo peer with everything filled in, ready to paste (a test runs them as printed).
/// The secret itself is never logged.
/// </summary>
internal sealed partial class StandaloneAnnouncer : IHostedService
{
    /// <summary>The echo peer's port in the printed commands (outside the relay range and Linux's ephemeral range).</summary>
    public const int PeerPort = 3490;

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
        LogStandalone(_logger, sample.Username, sample.Password);
        if ((_runtime.PublicIp4 ?? _runtime.PublicIp6) is { } address)
        {
            // The peer listens on the relay's own address: a real address (not loopback) that the relay may relay to.
            string host = address.ToString();
            LogTryIt(_logger, _settings.Rfc5766ChannelNumbers ? "ChannelData" : "Send indications (add --rfc5766-channel-numbers to the relay for uclient's channels)");
            if (engine.CheckPeer(new TransportAddress(IpAddr.FromIPAddress(address), PeerPort)) is var denial and not PeerDenial.None)
            {
                // A lab or a cloud VM's private address: the default policy refuses it, so say how to allow it.
                LogEchoPeerRefused(_logger, host, denial, $"--allowed-peer-ip {host}");
            }

            LogCommand(_logger, $"turnutils_peer -L {host} -p {PeerPort}");
            LogCommand(_logger, $"turnutils_uclient{(_settings.Rfc5766ChannelNumbers ? string.Empty : " -s")} -c -n 10 -u {sample.Username} -w {sample.Password} -e {host} -r {PeerPort} -p {_runtime.ListenPort} {host}");
        }

        string scheme = ChoiceParser<AuthScheme>.Name(_settings.AuthScheme);
        if (_settings.RelaySecret is null)
        {
            LogGeneratedSecret(_logger, scheme);
        }
        else
        {
            LogMintCommand(_logger, $"firezone-relay credentials --secret \"$RELAY_SECRET\" --auth-scheme {scheme}");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Standalone mode (no portal token). Test credentials valid for 24 h: username {Username} password {Password}")]
    private static partial void LogStandalone(ILogger logger, string username, string password);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "The peer policy refuses the echo peer's address {Address} ({Reason}); to try the commands below, restart the relay with {Flag}")]
    private static partial void LogEchoPeerRefused(ILogger logger, string address, PeerDenial reason, string flag);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Try it with coturn's tools (apt-get install coturn), the echo peer in one shell and the client in another; the client relays with {Mode}:")]
    private static partial void LogTryIt(ILogger logger, string mode);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "  {Command}")]
    private static partial void LogCommand(ILogger logger, string command);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "The credential secret was generated for this run only; start with RELAY_SECRET (64 hex characters for --auth-scheme firezone) to keep credentials valid across restarts and mint more with 'firezone-relay credentials --secret \"$RELAY_SECRET\" --auth-scheme {Scheme}'")]
    private static partial void LogGeneratedSecret(ILogger logger, string scheme);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Mint more credentials with: {Command}")]
    private static partial void LogMintCommand(ILogger logger, string command);
}
