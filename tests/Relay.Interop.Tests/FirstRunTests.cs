using System.Net;
using System.Text.RegularExpressions;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// What a new operator runs, run exactly as written: the README's command that starts the relay, then the client
/// and echo-peer commands the relay prints, and the command it prints for minting more credentials.
/// </summary>
public sealed partial class FirstRunTests
{
    [RequiresFact(Tools.Uclient, Tools.Peer)]
    public async Task The_readmes_run_command_starts_a_relay_whose_printed_commands_relay_traffic()
    {
        TestEnvironment.Require(tools: [Tools.Uclient, Tools.Peer, "bash"]);
        string run = ReadmeCommand("Run the relay");
        Assert.Equal("dotnet run --project src/Relay.Web", run);
        var relay = RelayProcess.StartShell(run, Repository.Root);
        await relay.WaitUntilListeningAsync(TimeSpan.FromMinutes(3));
        string peer = await PrintedAsync(relay, "turnutils_peer ");
        string host = PeerHost().Match(peer).Groups[1].Value;

        // On a machine whose own address is private (a lab, a cloud VM behind NAT, this test machine) the default
        // peer policy refuses the echo peer: the relay says so and names the flag, and the operator restarts with it.
        bool refused = PeerPolicy.Classify(PeerPolicy.Canonicalize(IpAddr.Parse(host))) != PeerDenial.None;
        string hint = "restart the relay with --allowed-peer-ip " + host;
        Assert.Equal(refused, relay.Output.Contains(hint, StringComparison.Ordinal));
        if (refused)
        {
            relay.Dispose();
            relay = RelayProcess.StartShell($"{run} -- --allowed-peer-ip {host}", Repository.Root);
            await relay.WaitUntilListeningAsync(TimeSpan.FromMinutes(3));
            peer = await PrintedAsync(relay, "turnutils_peer ");
            Assert.DoesNotContain(hint, relay.Output, StringComparison.Ordinal);
        }

        using var running = relay;
        string client = await PrintedAsync(relay, "turnutils_uclient ");
        using var tools = new Tools();

        await tools.StartShellAsync(peer, int.Parse(PeerPort().Match(peer).Groups[1].Value));
        var (code, output) = await tools.RunAsync("bash", ["-c", client], TimeSpan.FromSeconds(60));

        Assert.True(code == 0, $"'{client}' exited {code}:\n{output}\n--- relay ---\n{relay.Output}");
        Assert.Matches(@"Total lost packets 0 \(0\.0+%\)", output);
        Assert.Matches(@"tot_recv_bytes ~ [1-9]", output);
    }

    [RequiresFact(Tools.Uclient)]
    public async Task The_printed_mint_command_mints_credentials_the_relay_accepts()
    {
        TestEnvironment.Require(tools: ["bash"]);
        string secret = new('c', 64);
        using var relay = RelayProcess.Start(
            ["--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1", "--listen-port", "0", "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0"],
            new() { ["RELAY_SECRET"] = secret });
        await relay.WaitUntilListeningAsync();
        string mint = (await PrintedAsync(relay, "Mint more credentials with: "))["Mint more credentials with: ".Length..];
        Assert.StartsWith("firezone-relay credentials ", mint);
        using var tools = new Tools();

        // The published binary is on the operator's PATH; here it is the one built next to the tests.
        var (code, output) = await tools.RunAsync("bash", ["-c", mint], TimeSpan.FromSeconds(30), new()
        {
            ["RELAY_SECRET"] = secret,
            ["PATH"] = AppContext.BaseDirectory + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["DOTNET_ROOT"] = DotNetRoot(),
        });

        Assert.True(code == 0, output);
        using var client = new UdpTurnClient(new IPEndPoint(IPAddress.Loopback, relay.UdpPort), secret: secret);
        client.Signer.Username = Regex.Match(output, "username: (\\S+)").Groups[1].Value;
        client.Signer.Password = Regex.Match(output, "password: (\\S+)").Groups[1].Value;
        await client.AllocateAsync();
    }

    /// <summary>The first command of the shell block that follows <paramref name="heading"/> in README.md.</summary>
    private static string ReadmeCommand(string heading)
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        int at = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(at >= 0, $"README.md has no '{heading}'");
        Match block = ShellBlock().Match(readme, at);
        Assert.True(block.Success, $"no ```sh block after '{heading}'");
        return block.Groups[1].Value.Trim();
    }

    /// <summary>Waits for the relay to log a line containing <paramref name="marker"/>; returns the text from the marker on.</summary>
    private static async Task<string> PrintedAsync(RelayProcess relay, string marker)
    {
        string? found = null;
        await Eventually.TrueAsync(() =>
        {
            found = relay.Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains(marker, StringComparison.Ordinal))
                .Select(l => l[l.IndexOf(marker, StringComparison.Ordinal)..]).FirstOrDefault();
            return found is not null;
        }, $"the relay to print '{marker}'");
        return found!;
    }

    private static string DotNetRoot() => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    [GeneratedRegex(@"```sh\n([^\n]+)\n")]
    private static partial Regex ShellBlock();

    [GeneratedRegex(@"-p (\d+)")]
    private static partial Regex PeerPort();

    [GeneratedRegex(@"-L (\S+)")]
    private static partial Regex PeerHost();
}
