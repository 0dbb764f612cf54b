using System.Net;
using Relay.Core.FastPath;
using Relay.Core.Server;
using Relay.Core.Time;

namespace Relay.Web.Udp;

/// <summary>
/// What the rest of the host knows about the running data plane: set once the UDP sockets are bound. Everything
/// that must touch the engine goes through <see cref="InvokeAsync{T}"/> onto the data-plane thread.
/// </summary>
public sealed class RelayRuntime
{
    private RelayEventLoop? _loop;
    private IHostApplicationLifetime? _lifetime;

    public bool UdpReady => _loop is { IsRunning: true };

    /// <summary>When the relay started serving (its UDP sockets bound).</summary>
    public DateTimeOffset? StartedAt { get; internal set; }

    /// <summary>Set by the portal client while it is joined to the relay topic.</summary>
    public bool PortalJoined { get; set; }

    public IPAddress? PublicIp4 { get; private set; }

    public IPAddress? PublicIp6 { get; private set; }

    public ushort ListenPort { get; private set; }

    /// <summary>The credential secret the engine uses (configured or generated).</summary>
    public string? Secret { get; private set; }

    public RelayServer? Engine => _loop?.Engine;

    /// <summary>The kernel fast path (XDP) while offloading is on; <see cref="NullFastPath"/> otherwise.</summary>
    public IFastPath FastPath => _loop?.FastPath ?? NullFastPath.Instance;

    public long SendErrors => _loop?.SendErrors ?? 0;

    public long CoalescedDatagrams => _loop?.CoalescedDatagrams ?? 0;

    public int AllocationSocketCount => _loop?.AllocationSocketCount ?? 0;

    internal void Attach(RelayEventLoop loop, IPAddress? v4, IPAddress? v6, ushort listenPort)
    {
        PublicIp4 = v4;
        PublicIp6 = v6;
        ListenPort = listenPort;
        Secret = loop.Engine.AuthSecret;
        _loop = loop;
    }

    internal void Detach() => _loop = null;

    /// <summary>The exit code the process ends with (0 unless a component asked for a failure exit).</summary>
    public int ExitCode { get; private set; }

    /// <summary>Why the relay is exiting with a failure, when it is.</summary>
    public string? ExitReason { get; private set; }

    internal void UseLifetime(IHostApplicationLifetime lifetime) => _lifetime = lifetime;

    /// <summary>Set when a graceful drain begins: /readyz answers 503 from then on.</summary>
    public bool Draining { get; internal set; }

    /// <summary>Stops the relay as SIGTERM would (draining first when --drain-timeout is set).</summary>
    public void RequestStop() => _lifetime?.StopApplication();

    /// <summary>
    /// Stops the relay and makes the process exit with <paramref name="code"/> (a fatal condition such as a refused
    /// portal login, or a start-up failure). The first request wins. During start-up the stop waits until the host
    /// has started: stopping earlier would cancel the web server's start, which the host reports as a crash.
    /// </summary>
    public void RequestExit(int code, string reason)
    {
        if (ExitCode == 0)
        {
            ExitCode = code;
            ExitReason = reason;
        }

        if (_lifetime is not { } lifetime)
        {
            return;
        }

        if (lifetime.ApplicationStarted.IsCancellationRequested)
        {
            lifetime.StopApplication();
        }
        else
        {
            lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
    }

    public Task<T> InvokeAsync<T>(Func<RelayServer, Instant, T> action) =>
        _loop is { } loop ? loop.InvokeAsync(action) : Task.FromException<T>(new InvalidOperationException("The UDP data plane is not running."));
}
