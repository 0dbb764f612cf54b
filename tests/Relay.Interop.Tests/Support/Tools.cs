using System.Diagnostics;
using System.Text;
using Relay.TestSupport;

namespace Relay.Interop.Tests.Support;

/// <summary>Runs the interop kit's scripts and coturn's tools, bounded in time, in a private state directory.</summary>
public sealed class Tools : IDisposable
{
    public const string Uclient = "turnutils_uclient";
    public const string StunClient = "turnutils_stunclient";
    public const string Peer = "turnutils_peer";

    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("relay-interop-");
    private readonly List<Process> _background = new();

    public string Home => _home.FullName;

    public async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, Dictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["INTEROP_HOME"] = Home;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        ProcessResult result = await BoundedProcess.RunAsync(info, timeout);
        return (result.Code, result.Output);
    }

    /// <summary>Runs a script of tests/interop with bash; returns its exit code and output.</summary>
    public Task<(int Code, string Output)> ScriptAsync(string script, string[] args, TimeSpan timeout, Dictionary<string, string>? environment = null)
    {
        TestEnvironment.Require(tools: ["bash"]);
        return RunAsync("bash", [Path.Combine(Repository.Interop, script), .. args], timeout, environment);
    }

    /// <summary>Starts coturn's UDP echo peer on loopback (both families); killed on dispose.</summary>
    public async Task<int> StartEchoPeerAsync()
    {
        TestEnvironment.Require(tools: [Peer]);
        int port = RelayProcess.FreeUdpPort();
        var info = new ProcessStartInfo(Peer) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "-L", "127.0.0.1", "-L", "::1", "-p", port.ToString() })
        {
            info.ArgumentList.Add(arg);
        }

        await StartBackgroundAsync(info, port);
        return port;
    }

    /// <summary>Runs <paramref name="command"/> with bash in the background (killed on dispose) until it listens on UDP <paramref name="port"/>.</summary>
    public Task StartShellAsync(string command, int port)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        return StartBackgroundAsync(info, port);
    }

    private async Task StartBackgroundAsync(ProcessStartInfo info, int port)
    {
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _background.Add(process);
        await Eventually.TrueAsync(() => process.HasExited || UdpPortBound(port), $"{info.FileName} to listen on UDP port {port}");
        Assert.False(process.HasExited, $"{info.FileName} exited at once");
    }

    /// <summary>Whether any socket of this network namespace has UDP port <paramref name="port"/> bound (/proc/net/udp and udp6).</summary>
    public static bool UdpPortBound(int port)
    {
        string hex = ":" + port.ToString("X4", System.Globalization.CultureInfo.InvariantCulture) + " ";
        return new[] { "/proc/net/udp", "/proc/net/udp6" }.Any(file => File.Exists(file) && File.ReadLines(file).Skip(1).Any(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].EndsWith(hex.TrimEnd(), StringComparison.Ordinal)));
    }

    public void Dispose()
    {
        foreach (var process in _background)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }

            process.Dispose();
        }

        _home.Delete(recursive: true);
    }
}
