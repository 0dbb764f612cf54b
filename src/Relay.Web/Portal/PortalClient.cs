using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading.Channels;
using Relay.Web.Configuration;
using Relay.Web.Udp;

namespace Relay.Web.Portal;

/// <summary>
/// In portal mode, keeps the relay joined to the portal over a Phoenix Channels V1 WebSocket
/// (<see cref="PhoenixSession"/> decides, this class does the I/O and the timers). The UDP data plane never waits
/// for the portal: allocations keep relaying while it is away. The portal refusing the relay (HTTP 401, a join
/// error, an expired token) or staying unreachable past the retry budget (<see cref="PortalRetryPlanner"/>) stops
/// the process with exit code <see cref="FatalExitCode"/>. Every wait uses the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class PortalClient : BackgroundService
{
    /// <summary>The process exit code when the portal refuses the relay or cannot be reached in time.</summary>
    public const int FatalExitCode = 3;

    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bounds one send, so a stuck TCP connection cannot stall the client (the heartbeats would notice only later).
    /// Longer than the heartbeat interval on purpose: a timer racing a completed send must never abort the socket.
    /// </summary>
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Bounds the courtesy close frame and the wait for the portal's answer to it.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);
    private const int MaxMessageBytes = 1 << 20;

    private readonly RelaySettings _settings;
    private readonly RelayRuntime _runtime;
    private readonly PortalStatus _status;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<double> _random;

    public PortalClient(RelaySettings settings, RelayRuntime runtime, PortalStatus status, TimeProvider time, ILoggerFactory loggers)
    {
        _settings = settings;
        _runtime = runtime;
        _status = status;
        _time = time;
        _logger = loggers.CreateLogger("Relay.Web.Portal.PortalClient");
        _random = Random.Shared.NextDouble;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_settings.PortalMode || _settings.PortalUrl is null)
        {
            return;
        }

        await Task.Yield(); // never hold up the host's start

        if (_runtime.Secret is not { } secret)
        {
            Fail("the UDP data plane did not start, so there is no relay secret to join the portal with");
            return;
        }

        Uri url = PortalLoginUrl.Build(_settings.PortalUrl, _settings.Name, _runtime.PublicIp4, _runtime.PublicIp6, _runtime.ListenPort);
        string shownUrl = PortalLoginUrl.Redact(url);
        _status.SetUrl(shownUrl);
        var planner = new PortalRetryPlanner(_time.GetUtcNow(), _random);
        bool first = true;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (first)
                {
                    LogConnecting(_logger, url.AbsoluteUri);
                }
                else
                {
                    LogRetrying(_logger);
                }

                _status.Connecting(isRetry: !first);
                first = false;
                Outcome outcome = await RunConnectionAsync(url, secret, planner, stoppingToken);
                DateTimeOffset now = _time.GetUtcNow();
                planner.ConnectionEnded(now);
                switch (outcome.Kind)
                {
                    case OutcomeKind.Stopped:
                        return;
                    case OutcomeKind.Fatal:
                        Fail(outcome.Reason);
                        return;
                }

                if (outcome.RetryAfter is { } retryAfter)
                {
                    LogRetryAfter(_logger, retryAfter.TotalSeconds);
                }

                RetryDecision decision = planner.Next(now, outcome.RetryAfter);
                if (decision.GiveUp)
                {
                    Fail(planner.EverJoined
                        ? $"lost the portal at {shownUrl} {Describe(now - planner.OutageStart)} ago and the next attempt would fall outside the {Describe(planner.Budget)} limit (last error: {outcome.Reason})"
                        : $"could not join the portal at {shownUrl} within {Describe(planner.Budget)} of starting (last error: {outcome.Reason})");
                    return;
                }

                // The timer exists before the status announces it, so whoever reads NextAttemptAt can rely on it.
                Task wait = Task.Delay(decision.Delay, _time, stoppingToken);
                _status.Disconnected(outcome.Reason, now + decision.Delay);
                if (outcome.WasJoined)
                {
                    LogConnectionLost(_logger, outcome.Reason, decision.Delay.TotalMilliseconds);
                }
                else
                {
                    LogAttemptFailed(_logger, outcome.Reason, decision.Delay.TotalMilliseconds);
                }

                await wait;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (_status.State != PortalState.Disconnected)
            {
                _status.Disconnected("the relay is stopping", null);
            }
        }
    }

    private void Fail(string reason)
    {
        _status.Disconnected(reason, null);
        LogFatal(_logger, reason);
        _runtime.RequestExit(FatalExitCode, reason);
    }

    /// <summary>One connection: connect, join, then serve messages and timers until it ends.</summary>
    private async Task<Outcome> RunConnectionAsync(Uri url, string secret, PortalRetryPlanner planner, CancellationToken stoppingToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-Authorization", "Bearer " + _settings.Token);
        socket.Options.SetRequestHeader("User-Agent", PortalUserAgent.Value);
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // Phoenix heartbeats keep the connection alive and checked

        if (await ConnectAsync(socket, url, planner.AttemptTimeout(_time.GetUtcNow()), stoppingToken) is { } failed)
        {
            return failed;
        }

        LogConnected(_logger);
        var inputs = Channel.CreateUnbounded<Input>(new UnboundedChannelOptions { SingleReader = true });
        using var readerStop = new CancellationTokenSource();
        Task reader = ReadLoopAsync(socket, inputs.Writer, readerStop.Token);
        using ITimer heartbeat = _time.CreateTimer(static state => ((ChannelWriter<Input>)state!).TryWrite(Input.Heartbeat), inputs.Writer, HeartbeatInterval, HeartbeatInterval);
        ITimer? joinTimer = null;
        var session = new PhoenixSession(secret);
        bool joined = false;
        try
        {
            SessionAction action = session.Start();
            while (true)
            {
                switch (action.Kind)
                {
                    case SessionActionKind.Send:
                        await SendAsync(socket, action.Frame!, stoppingToken);
                        break;
                    case SessionActionKind.Join:
                        if (action.Detail is { } why)
                        {
                            LogRejoining(_logger, why);
                            _status.Rejoining(why);
                        }

                        joinTimer?.Dispose();
                        joinTimer = _time.CreateTimer(static state => ((JoinTimer)state!).Fire(), new JoinTimer(inputs.Writer, action.Ref!.Value), JoinDeadline(planner), Timeout.InfiniteTimeSpan);
                        await SendAsync(socket, action.Frame!, stoppingToken);
                        break;
                    case SessionActionKind.Joined:
                        joinTimer?.Dispose();
                        joinTimer = null;
                        joined = true;
                        planner.Joined();
                        _status.Joined();
                        LogJoined(_logger);
                        break;
                    case SessionActionKind.Init:
                        LogInit(_logger);
                        break;
                    case SessionActionKind.Reconnect:
                        LeaveJoined(action.Detail!);
                        await CloseQuietlyAsync(socket, WebSocketCloseStatus.NormalClosure, reader);
                        return Outcome.Hiccup(action.Detail!, joined);
                    case SessionActionKind.Fatal:
                        LeaveJoined(action.Detail!);
                        await CloseQuietlyAsync(socket, WebSocketCloseStatus.NormalClosure, reader);
                        return Outcome.Fatal(action.Detail!);
                    case SessionActionKind.Unexpected:
                        LogUnexpected(_logger, action.Detail!);
                        break;
                    case SessionActionKind.Ignored:
                        LogIgnored(_logger, action.Detail!);
                        break;
                }

                Input input = await inputs.Reader.ReadAsync(stoppingToken);
                switch (input)
                {
                    case Input.Text text:
                        if (PhoenixCodec.TryDecode(text.Utf8, out PhoenixMessage message, out string? error))
                        {
                            int unanswered = session.UnansweredHeartbeats;
                            action = session.Handle(message);
                            if (session.UnansweredHeartbeats < unanswered)
                            {
                                _status.HeartbeatAnswered();
                            }
                        }
                        else
                        {
                            action = new SessionAction(SessionActionKind.Unexpected, Detail: $"a {text.Utf8.Length}-byte text frame that is not a Phoenix message ({error})");
                        }

                        break;
                    case Input.HeartbeatTick:
                        action = session.HeartbeatDue();
                        break;
                    case Input.JoinExpired expired:
                        action = session.JoinTimedOut(expired.Ref);
                        break;
                    case Input.BinaryFrame:
                        action = new SessionAction(SessionActionKind.Ignored, Detail: "a binary frame");
                        break;
                    case Input.Closed closed:
                        LeaveJoined(closed.Reason);
                        await CloseQuietlyAsync(socket, WebSocketCloseStatus.NormalClosure, reader); // echo the close
                        return Outcome.Hiccup(closed.Reason, joined);
                    case Input.Failed failure:
                        return Outcome.Hiccup(failure.Reason, joined);
                    default:
                        action = SessionAction.None;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await CloseQuietlyAsync(socket, WebSocketCloseStatus.EndpointUnavailable, reader);
            return Outcome.Stopped;
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            return Outcome.Hiccup("sending to the portal failed: " + exception.Message, joined);
        }
        finally
        {
            joinTimer?.Dispose();
            readerStop.Cancel();
            socket.Abort();
            await reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>5 s, but never past the start-up deadline before the first join.</summary>
    private TimeSpan JoinDeadline(PortalRetryPlanner planner)
    {
        TimeSpan left = planner.AttemptTimeout(_time.GetUtcNow());
        return planner.EverJoined || left >= JoinTimeout ? JoinTimeout : left;
    }

    /// <summary>Readiness drops the moment a connection is given up, not after the courtesy close.</summary>
    private void LeaveJoined(string reason)
    {
        if (_status.State == PortalState.Joined)
        {
            _status.Disconnected(reason, null);
        }
    }

    /// <summary>Opens the WebSocket; null on success, otherwise how the attempt ended.</summary>
    private async Task<Outcome?> ConnectAsync(ClientWebSocket socket, Uri url, TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, deadline.Token);
        try
        {
            await socket.ConnectAsync(url, linked.Token);
            return null;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return Outcome.Stopped;
        }
        catch (OperationCanceledException)
        {
            return Outcome.Hiccup($"no connection within {Describe(timeout)}", false);
        }
        catch (Exception exception) when (exception is WebSocketException or HttpRequestException or IOException or SocketException)
        {
            HttpStatusCode status = socket.HttpStatusCode;
            if (status == HttpStatusCode.Unauthorized)
            {
                return Outcome.Fatal("the portal rejected the relay's token (HTTP 401 Unauthorized): check FIREZONE_TOKEN");
            }

            if (status != 0 && status != HttpStatusCode.SwitchingProtocols)
            {
                TimeSpan? retryAfter = PortalRetryPlanner.ParseRetryAfter(Header(socket, "Retry-After"), _time.GetUtcNow());
                return Outcome.Hiccup($"the portal answered HTTP {(int)status} {status}", false, retryAfter);
            }

            return Outcome.Hiccup(Innermost(exception), false);
        }
    }

    private async Task SendAsync(ClientWebSocket socket, byte[] frame, CancellationToken stoppingToken)
    {
        using var deadline = new CancellationTokenSource(SendTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, deadline.Token);
        await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, linked.Token);
    }

    /// <summary>
    /// Best effort, bounded, never throwing: a close frame (or the echo of the portal's), then, when we started the
    /// close, a short wait for the portal's answer (the reader sees it and ends) so the portal reads a clean close
    /// rather than a reset.
    /// </summary>
    private async Task CloseQuietlyAsync(ClientWebSocket socket, WebSocketCloseStatus status, Task reader)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            bool initiated = socket.State == WebSocketState.Open;
            using var deadline = new CancellationTokenSource(CloseTimeout, _time);
            await socket.CloseOutputAsync(status, null, deadline.Token);
            if (initiated)
            {
                await reader.WaitAsync(CloseTimeout, _time);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
        }
    }

    /// <summary>Reads whole messages into <paramref name="inputs"/> until the socket closes or fails.</summary>
    private static async Task ReadLoopAsync(ClientWebSocket socket, ChannelWriter<Input> inputs, CancellationToken cancel)
    {
        var message = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                message.ResetWrittenCount();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(message.GetMemory(4096), cancel);
                    message.Advance(result.Count);
                    if (message.WrittenCount > MaxMessageBytes)
                    {
                        inputs.TryWrite(new Input.Failed($"the portal sent a message larger than {MaxMessageBytes} bytes"));
                        return;
                    }
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        string detail = socket.CloseStatus is { } code ? $"{(int)code} {code}" : "no status";
                        if (!string.IsNullOrEmpty(socket.CloseStatusDescription))
                        {
                            detail += ": " + socket.CloseStatusDescription;
                        }

                        inputs.TryWrite(new Input.Closed($"the portal closed the WebSocket ({detail})"));
                        return;
                    case WebSocketMessageType.Binary:
                        inputs.TryWrite(Input.Binary);
                        break;
                    default:
                        inputs.TryWrite(new Input.Text(message.WrittenMemory.ToArray()));
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            inputs.TryWrite(new Input.Failed("the portal connection broke: " + Innermost(exception)));
        }
    }

    private static string? Header(ClientWebSocket socket, string name)
    {
        if (socket.HttpResponseHeaders is not { } headers)
        {
            return null;
        }

        foreach (var (key, values) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return values.FirstOrDefault();
            }
        }

        return null;
    }

    private static string Innermost(Exception exception)
    {
        while (exception.InnerException is { } inner)
        {
            exception = inner;
        }

        return exception.Message;
    }

    private static string Describe(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{span.TotalHours:0.#} h" : span.TotalMinutes >= 1 ? $"{span.TotalMinutes:0.#} min" : $"{span.TotalSeconds:0.#} s";

    private enum OutcomeKind
    {
        Stopped,
        Hiccup,
        Fatal,
    }

    private sealed record Outcome(OutcomeKind Kind, string Reason, bool WasJoined, TimeSpan? RetryAfter)
    {
        public static readonly Outcome Stopped = new(OutcomeKind.Stopped, "the relay is stopping", false, null);

        public static Outcome Hiccup(string reason, bool wasJoined, TimeSpan? retryAfter = null) => new(OutcomeKind.Hiccup, reason, wasJoined, retryAfter);

        public static Outcome Fatal(string reason) => new(OutcomeKind.Fatal, reason, false, null);
    }

    private abstract record Input
    {
        public static readonly Input Heartbeat = new HeartbeatTick();
        public static readonly Input Binary = new BinaryFrame();

        public sealed record Text(byte[] Utf8) : Input;

        public sealed record HeartbeatTick : Input;

        public sealed record JoinExpired(ulong Ref) : Input;

        public sealed record BinaryFrame : Input;

        public sealed record Closed(string Reason) : Input;

        public sealed record Failed(string Reason) : Input;
    }

    private sealed class JoinTimer(ChannelWriter<Input> inputs, ulong joinRef)
    {
        public void Fire() => inputs.TryWrite(new Input.JoinExpired(joinRef));
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Connecting to the portal at {Url}")]
    private static partial void LogConnecting(ILogger logger, string url);

    [LoggerMessage(EventId = 511, Level = LogLevel.Debug, Message = "Connecting to the portal again")]
    private static partial void LogRetrying(ILogger logger);

    [LoggerMessage(EventId = 501, Level = LogLevel.Debug, Message = "Portal WebSocket open; joining topic relay")]
    private static partial void LogConnected(ILogger logger);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Joined the portal: the relay is ready")]
    private static partial void LogJoined(ILogger logger);

    [LoggerMessage(EventId = 503, Level = LogLevel.Information, Message = "The portal sent init")]
    private static partial void LogInit(ILogger logger);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "Lost the portal connection ({Reason}); relaying continues, reconnecting in {DelayMs:0} ms")]
    private static partial void LogConnectionLost(ILogger logger, string reason, double delayMs);

    [LoggerMessage(EventId = 505, Level = LogLevel.Information, Message = "Portal connection attempt failed ({Reason}); retrying in {DelayMs:0} ms")]
    private static partial void LogAttemptFailed(ILogger logger, string reason, double delayMs);

    [LoggerMessage(EventId = 506, Level = LogLevel.Information, Message = "Rejoining topic relay: {Reason}")]
    private static partial void LogRejoining(ILogger logger, string reason);

    [LoggerMessage(EventId = 507, Level = LogLevel.Warning, Message = "Ignoring an unexpected portal message: {Detail}")]
    private static partial void LogUnexpected(ILogger logger, string detail);

    [LoggerMessage(EventId = 508, Level = LogLevel.Debug, Message = "Ignoring portal message: {Detail}")]
    private static partial void LogIgnored(ILogger logger, string detail);

    [LoggerMessage(EventId = 509, Level = LogLevel.Error, Message = "Portal: {Reason}; the relay exits")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(EventId = 510, Level = LogLevel.Information, Message = "The portal asked to retry after {Seconds} s")]
    private static partial void LogRetryAfter(ILogger logger, double seconds);
}
