namespace Relay.Web.Configuration;

/// <summary>
/// The relay's settings as bound from configuration section <c>Relay</c>, which the command line and the
/// environment feed (see <see cref="RelayFlags"/>). Values stay strings here so that every parse error can name the
/// flag it came from; <see cref="RelaySettings.Parse"/> turns them into typed, validated settings at start.
/// </summary>
public sealed class RelayOptions
{
    public const string Section = "Relay";

    public string? PublicIp4Addr { get; set; }

    public string? PublicIp6Addr { get; set; }

    public string BindIp4Addr { get; set; } = "0.0.0.0";

    public string BindIp6Addr { get; set; } = "::";

    public string ListenPort { get; set; } = "3478";

    public string LowestPort { get; set; } = "49152";

    public string HighestPort { get; set; } = "65535";

    public string? ApiUrl { get; set; }

    public string? Token { get; set; }

    public string? Name { get; set; }

    public string HealthCheckAddr { get; set; } = "0.0.0.0:8080";

    public string ControlEndpoint { get; set; } = "127.0.0.1:9999";

    public string? AdminToken { get; set; }

    public string LogFormat { get; set; } = "human";

    public string LogFilter { get; set; } = "info";

    public string? RngSeed { get; set; }

    public string? OtlpGrpcEndpoint { get; set; }

    public string? EbpfOffloading { get; set; }

    public string EbpfAttachMode { get; set; } = "driver";

    public string? EbpfInt4Addr { get; set; }

    public string? EbpfInt6Addr { get; set; }

    public string? RelaySecret { get; set; }

    public string AuthScheme { get; set; } = "firezone";

    public string Realm { get; set; } = "firezone";

    public string UserQuota { get; set; } = "100";

    public string Rfc5766ChannelNumbers { get; set; } = "false";

    public string AllowLoopbackPeers { get; set; } = "false";
}
