using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Relay.Xdp.Tests.Support;

/// <summary>
/// A network namespace made by the test (<c>ip netns add</c>), deleted by name on dispose. Sockets can be opened
/// inside it from this process: a namespace is a per-thread attribute on Linux, so a short-lived thread switches
/// into it (setns), creates the socket and ends; the socket stays in the namespace it was created in.
/// </summary>
public sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private bool _deleted;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static NetworkNamespace Create(string name)
    {
        Run("ip", "netns", "add", name);
        return new NetworkNamespace(name);
    }

    /// <summary>Runs a command inside the namespace; throws with its output when it fails.</summary>
    public string Exec(params string[] command) => Run(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace.</summary>
    public T Enter<T>(Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/run/netns/{Name}");
                if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                result = action();
            }
            catch (Exception exception)
            {
                failure = exception;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException($"in namespace {Name}: {failure.Message}", failure);
    }

    public Socket OpenUdp(IPEndPoint bind) => Enter(() =>
    {
        var socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(bind);
        return socket;
    });

    /// <summary>An HTTP client whose connections are made from inside the namespace (to reach its loopback).</summary>
    public HttpClient HttpClient(string baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancel) =>
        {
            Socket socket = Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancel);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri(baseAddress), Timeout = TimeSpan.FromSeconds(10) };

    public static string Run(params string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            throw new TimeoutException($"'{string.Join(' ', command)}' ran longer than 30 s");
        }

        return process.ExitCode == 0
            ? output.Result
            : throw new InvalidOperationException($"'{string.Join(' ', command)}' failed ({process.ExitCode}): {error.Result}{output.Result}");
    }

    public void Dispose()
    {
        if (!_deleted)
        {
            _deleted = true;
            Run("ip", "netns", "del", Name);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
