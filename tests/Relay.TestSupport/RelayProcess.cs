using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Relay.TestSupport;

/// <summary>
/// The built <c>firezone-relay</c> running as a child process, with its output captured. Ports are chosen by the
/// OS (listen port 0, HTTP on port 0) and read back from the log, so parallel tests never collide.
/// </summary>
public sealed partial class RelayProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<ushort> _udpPort = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _httpPort = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RelayProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public int Pid => _process.Id;

    public ushort UdpPort => _udpPort.Task.Result;

    public int HttpPort => _httpPort.Task.Result;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static string RelayDll => Path.Combine(AppContext.BaseDirectory, "firezone-relay.dll");

    public static string DotNet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>
    /// Starts the relay with <paramref name="args"/>. A <paramref name="launcher"/> such as <c>ip netns exec NAME</c>
    /// runs it through that command, which must exec it (so <see cref="Pid"/> stays the relay's).
    /// </summary>
    public static RelayProcess Start(IEnumerable<string> args, Dictionary<string, string>? environment = null, IReadOnlyList<string>? launcher = null)
    {
        var info = new ProcessStartInfo(launcher is { Count: > 0 } ? launcher[0] : DotNet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (launcher is { Count: > 0 })
        {
            foreach (string part in launcher.Skip(1))
            {
                info.ArgumentList.Add(part);
            }

            info.ArgumentList.Add(DotNet);
        }

        info.ArgumentList.Add(RelayDll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (string name in new[] { "FIREZONE_TOKEN", "RELAY_SECRET", "RUST_LOG", "LOG_FILTER", "PUBLIC_IP4_ADDR", "PUBLIC_IP6_ADDR", "LISTEN_PORT" })
        {
            info.Environment.Remove(name); // the relay must see only what the test gives it
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return new RelayProcess(Process.Start(info)!);
    }

    /// <summary>
    /// Runs <paramref name="command"/> with bash in <paramref name="directory"/> (a command documented for
    /// operators, run as written); disposing kills the whole process tree.
    /// </summary>
    public static RelayProcess StartShell(string command, string directory, Dictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return new RelayProcess(Process.Start(info)!);
    }

    /// <summary>Starts a loopback relay ready for coturn's clients and waits until it listens.</summary>
    public static async Task<RelayProcess> StartLoopbackAsync(params string[] extra)
    {
        var args = new List<string>
        {
            "--public-ip4-addr", "127.0.0.1", "--public-ip6-addr", "::1",
            "--bind-ip4-addr", "127.0.0.1", "--bind-ip6-addr", "::1",
            "--listen-port", "0", "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0",
            "--allow-loopback-peers", "--log-filter", "info",
        };
        args.AddRange(extra);
        var relay = Start(args);
        await relay.WaitUntilListeningAsync();
        return relay;
    }

    public async Task WaitUntilListeningAsync(TimeSpan? within = null)
    {
        var timeout = Task.Delay(within ?? TimeSpan.FromSeconds(30));
        var ready = Task.WhenAll(_udpPort.Task, _httpPort.Task);
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(ready, timeout, exited);
        if (first != ready)
        {
            if (first == exited)
            {
                _process.WaitForExit(); // drain the output readers so the message shows why
            }

            throw new InvalidOperationException($"The relay did not start listening ({(first == exited ? $"exited with {_process.ExitCode}" : "timeout")}):\n{Output}");
        }
    }

    /// <summary>Sends SIGTERM without waiting (a draining relay goes on running).</summary>
    public void SendSigterm() => _ = kill(_process.Id, 15);

    /// <summary>Sends SIGTERM and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, 15);
        }

        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit(); // flush the output readers
        return _process.ExitCode;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (UdpPortLine().Match(line) is { Success: true } udp)
        {
            _udpPort.TrySetResult(ushort.Parse(udp.Groups[1].Value));
        }

        if (HttpPortLine().Match(line) is { Success: true } http)
        {
            _httpPort.TrySetResult(int.Parse(http.Groups[1].Value));
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Listening for STUN/TURN on UDP port (\d+)")]
    private static partial Regex UdpPortLine();

    [GeneratedRegex(@"Health checks and metrics on http://[^ ]*:(\d+) ")]
    private static partial Regex HttpPortLine();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>A UDP port nobody listens on right now (for the echo peer).</summary>
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
