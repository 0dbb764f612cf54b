using System.Text.RegularExpressions;
using Relay.Core.Auth;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// coturn's client tools — clients nobody on this team wrote — against the built relay, on loopback. In CI these
/// must run (coturn is installed by .ci/run); locally they skip loudly when coturn is missing.
/// </summary>
public partial class CoturnInteropTests
{
    private const string RestSecret = "interop-secret-0123";
    private static readonly string FirezoneSecret = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("interop"u8));

    [RequiresTheory(Tools.StunClient, "bash", "ss")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Turnutils_stunclient_gets_its_mapped_address(string host)
    {
        TestEnvironment.Require(tools: [Tools.StunClient, "bash", "ss"]);
        using var relay = await RelayProcess.StartLoopbackAsync();
        using var tools = new Tools();
        var (code, output) = await tools.ScriptAsync("stun-turnutils.sh", [host, relay.UdpPort.ToString()], TimeSpan.FromSeconds(30));
        Assert.True(code == 0, output);
        Assert.Matches(@"PASS stun-turnutils.*mapped=(127\.0\.0\.1|::1)", LastLine(output));
    }

    [RequiresTheory(Tools.Uclient, Tools.Peer)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", false)]
    [InlineData("::1", true)]
    public async Task Turnutils_uclient_relays_with_firezone_credentials_without_loss(string host, bool sendIndications)
    {
        TestEnvironment.Require(tools: [Tools.Uclient, Tools.Peer]);
        using var relay = await RelayProcess.StartLoopbackAsync("--relay-secret", FirezoneSecret, "--rfc5766-channel-numbers");
        using var tools = new Tools();
        int peerPort = await tools.StartEchoPeerAsync();

        long expiry = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        string salt = "uclient" + (sendIndications ? "send" : "chan");
        string username = $"{expiry}:{salt}";
        string password = FirezoneCredentials.GeneratePassword(FirezoneSecret, (ulong)expiry, salt);
        var args = new List<string> { "-v", "-c", "-u", username, "-w", password, "-e", host, "-r", peerPort.ToString(),
            "-p", relay.UdpPort.ToString(), "-n", "30", "-l", "120", "-z", "5" };
        if (sendIndications)
        {
            args.Add("-s");
        }

        args.Add(host);
        var (code, output) = await tools.RunAsync(Tools.Uclient, args, TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"turnutils_uclient exited {code}:\n{output}\n--- relay ---\n{relay.Output}");
        var totals = Totals().Matches(output).Last();
        Assert.Equal("30", totals.Groups[1].Value);
        Assert.Equal("30", totals.Groups[2].Value);
        Assert.Matches(@"Total lost packets 0 \(0\.0+%\)", output);
        Assert.Contains("Received relay addr", output);
    }

    [RequiresFact(Tools.Uclient, Tools.Peer, "openssl", "bash", "ss")]
    public async Task The_whole_uclient_matrix_passes_in_turn_rest_mode()
    {
        TestEnvironment.Require(tools: [Tools.Uclient, Tools.Peer, "openssl", "bash", "ss"]);
        using var relay = await RelayProcess.StartLoopbackAsync("--auth-scheme", "turn-rest", "--relay-secret", RestSecret, "--rfc5766-channel-numbers");
        using var tools = new Tools();
        int peerPort = RelayProcess.FreeUdpPort();
        var (code, output) = await tools.ScriptAsync("turn-uclient.sh", ["127.0.0.1", relay.UdpPort.ToString(), RestSecret, "127.0.0.1", peerPort.ToString()],
            TimeSpan.FromMinutes(6), new() { ["HOST6"] = "::1", ["PEER_HOST6"] = "::1" });
        Assert.True(code == 0, $"{output}\n--- relay ---\n{relay.Output}");
        Assert.StartsWith("PASS turn-uclient", LastLine(output));
        Assert.Contains("12 passed, 0 failed, 0 skipped", LastLine(output));
        Assert.Equal(0, await relay.TerminateAsync());
    }

    private static string LastLine(string output) => output.TrimEnd().Split('\n').Last().Trim();

    [GeneratedRegex(@"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)")]
    private static partial Regex Totals();
}
