using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Portal;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

/// <summary>
/// Refusals an operator needs to see are logged at info with the reason and what to change, a few per reason and
/// minute; a login's 401 challenge is not a failure.
/// </summary>
public sealed class RejectionLogTests : IDisposable
{
    private readonly LogCapture _logs = new();
    private readonly RelayFactory _relay;

    public RejectionLogTests() => _relay = new RelayFactory(new() { ["log-filter"] = "info" }) { Logs = _logs };

    private IEnumerable<string> Info(string contains) =>
        _logs.Entries.Where(e => e.Level == LogLevel.Information && e.Message.Contains(contains, StringComparison.Ordinal)).Select(e => e.Message);

    [Fact]
    public async Task A_channel_number_above_rfc_8656s_range_names_the_flag_that_allows_it()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "channels");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        await client.AllocateAsync();

        var response = await client.RequestAsync(() => new MessageSpec(StunMethod.ChannelBind).ChannelNumber(0x6000).Peer(peer.EndPoint.ToString()));

        Assert.Equal(400, response.ErrorCode);
        string line = Assert.Single(Info("channel number 0x6000"));
        Assert.Contains("outside 0x4000-0x4FFF (RFC 8656); start the relay with --rfc5766-channel-numbers", line);
    }

    [Fact]
    public async Task A_437_says_why_the_client_has_no_allocation()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "no-allocation");

        var response = await client.RefreshAsync(600);

        Assert.Equal(437, response.ErrorCode);
        string line = Assert.Single(Info("with 437"));
        Assert.Contains("a newer Allocate with the same username replaced it", line);
        Assert.Contains("--auth-scheme turn-rest", line);
    }

    [Fact]
    public async Task A_441_says_the_allocation_belongs_to_another_user()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "owner");
        await client.AllocateAsync();
        client.Signer.Username = client.Signer.Username.Replace(":owner", ":intruder", StringComparison.Ordinal);
        client.Signer.Password = Relay.Core.Auth.FirezoneCredentials.GeneratePassword(RelayFactory.Secret, ulong.Parse(client.Signer.Username.Split(':')[0]), "intruder");

        var response = await client.RefreshAsync(600);

        Assert.Equal(441, response.ErrorCode);
        Assert.Single(Info("441: the allocation belongs to another username"));
    }

    [Fact]
    public async Task A_refused_peer_is_logged_with_its_403()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "peers");
        await client.AllocateAsync();

        // The relay's own listening port is never a peer.
        var response = await client.RequestAsync(() => new MessageSpec(StunMethod.CreatePermission).Peer(_relay.ListenV4.ToString()));

        Assert.Equal(403, response.ErrorCode);
        Assert.Single(Info($"Refused peer {_relay.ListenV4} for {client.LocalEndPoint} with 403"));
    }

    [Fact]
    public async Task A_normal_login_logs_no_failure_and_a_wrong_password_does()
    {
        using var good = new UdpTurnClient(_relay.ListenV4, "good");
        await good.AllocateAsync();
        Assert.Empty(Info("authentication failed"));

        using var bad = new UdpTurnClient(_relay.ListenV4, "bad");
        bad.Signer.Password = "wrong";
        var response = await bad.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport());

        Assert.Equal(401, response.ErrorCode);
        string line = Assert.Single(Info("authentication failed"));
        Assert.Contains("wrong password or realm", line);
        Assert.Contains(bad.Signer.Username, line);
    }

    [Fact]
    public async Task Refusals_are_rate_limited_per_reason_and_the_held_back_ones_are_counted()
    {
        using var bad = new UdpTurnClient(_relay.ListenV4, "flood");
        bad.Signer.Password = "wrong";
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(401, (await bad.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport())).ErrorCode);
        }

        Assert.Equal(5, Info("authentication failed").Count());
        _relay.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(401, (await bad.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport())).ErrorCode);

        Assert.Single(Info("3 more refusals for WrongPassword in the minute before were not logged"));
        Assert.Equal(6, Info("authentication failed").Count());
    }

    public void Dispose() => _relay.Dispose();
}
