using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Relay.Web.Tests.Portal;

public enum JoinReply
{
    Ok,
    Error,
    Never,
}

/// <summary>How the fake portal treats one connection attempt.</summary>
public sealed record PortalPlan
{
    /// <summary>Answer the upgrade request with this HTTP status instead of accepting the WebSocket.</summary>
    public int? RejectStatus { get; init; }

    /// <summary>A Retry-After header for the rejection.</summary>
    public string? RetryAfter { get; init; }

    /// <summary>Never answer the upgrade request (the relay's connect timeout must end the attempt).</summary>
    public bool HangUpgrade { get; init; }

    public JoinReply Join { get; init; } = JoinReply.Ok;

    public string JoinErrorReason { get; init; } = "invalid_version";

    /// <summary>Push <c>init</c> right after a successful join, as the real portal does.</summary>
    public bool SendInit { get; init; } = true;

    public bool AnswerHeartbeats { get; init; } = true;
}

/// <summary>What the relay sent with one HTTP request (upgraded or not).</summary>
public sealed record PortalRequest(string Path, IReadOnlyDictionary<string, string> Query, IReadOnlyDictionary<string, string> Headers);

/// <summary>One Phoenix frame the relay sent, parsed independently of the relay's own codec.</summary>
public sealed record PortalFrame(string Topic, string Event, JsonElement Payload, JsonElement Ref, string Raw)
{
    public ulong? RefNumber => Ref.ValueKind == JsonValueKind.Number ? Ref.GetUInt64() : null;
}

/// <summary>
/// An in-process stand-in for the Firezone portal's relay socket: a Kestrel WebSocket endpoint on 127.0.0.1 (any
/// port) speaking Phoenix Channels V1 JSON. Each connection attempt follows the next queued <see cref="PortalPlan"/>
/// (or <see cref="DefaultPlan"/>); every request, connection and frame is recorded.
/// </summary>
public sealed class FakePortal : IAsyncDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(3);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<PortalPlan> _plans = new();
    private readonly Channel<PortalRequest> _requests = Channel.CreateUnbounded<PortalRequest>();
    private readonly Channel<PortalConnection> _connections = Channel.CreateUnbounded<PortalConnection>();
    private readonly CancellationTokenSource _shutdown = new();
    private int _requestCount;
    private TaskCompletionSource? _gate;

    private FakePortal(WebApplication app)
    {
        _app = app;
        app.Run(HandleAsync);
    }

    public PortalPlan DefaultPlan { get; set; } = new();

    /// <summary><c>ws://127.0.0.1:port</c>: pass it as the relay's --api-url.</summary>
    public Uri ApiUrl { get; private set; } = null!;

    public int RequestCount => Volatile.Read(ref _requestCount);

    public static async Task<FakePortal> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseWebSockets();
        var portal = new FakePortal(app);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        portal.ApiUrl = new Uri("ws://127.0.0.1:" + new Uri(address).Port);
        return portal;
    }

    public void Enqueue(params PortalPlan[] plans)
    {
        foreach (var plan in plans)
        {
            _plans.Enqueue(plan);
        }
    }

    public Task<PortalRequest> NextRequestAsync(TimeSpan? timeout = null) => ReadAsync(_requests.Reader, timeout, "HTTP request");

    public Task<PortalConnection> NextConnectionAsync(TimeSpan? timeout = null) => ReadAsync(_connections.Reader, timeout, "WebSocket connection");

    /// <summary>The next connection, once the relay has sent its join on it (answered or not as the plan says).</summary>
    public async Task<PortalConnection> NextJoinedConnectionAsync(TimeSpan? timeout = null)
    {
        var connection = await NextConnectionAsync(timeout);
        await connection.WaitForAsync(f => f.Event == "phx_join", timeout);
        return connection;
    }

    /// <summary>True if no new connection arrives within <paramref name="wait"/> (real time; keep it short).</summary>
    public async Task<bool> NoConnectionWithinAsync(TimeSpan wait)
    {
        using var cancel = new CancellationTokenSource(wait);
        try
        {
            await _connections.Reader.WaitToReadAsync(cancel.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    internal static async Task<T> ReadAsync<T>(ChannelReader<T> reader, TimeSpan? timeout, string what)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultWait);
        try
        {
            return await reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The fake portal saw no {what} within {(timeout ?? DefaultWait).TotalSeconds} s.");
        }
    }

    /// <summary>Holds every request until <see cref="Resume"/> (so a test can finish setting up before the relay hears back).</summary>
    public void Pause() => Interlocked.CompareExchange(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    public void Resume() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

    private async Task HandleAsync(HttpContext context)
    {
        if (Volatile.Read(ref _gate) is { } gate)
        {
            await gate.Task;
        }

        Interlocked.Increment(ref _requestCount);
        PortalPlan plan = _plans.TryDequeue(out var next) ? next : DefaultPlan;
        var request = new PortalRequest(
            context.Request.Path.Value ?? "",
            context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString()),
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        _requests.Writer.TryWrite(request);

        if (plan.HangUpgrade)
        {
            using var hang = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _shutdown.Token);
            await Task.Delay(Timeout.Infinite, hang.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }

        if (plan.RejectStatus is { } status)
        {
            context.Response.StatusCode = status;
            if (plan.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = retryAfter;
            }

            context.Response.ContentType = "application/problem+json";
            await context.Response.WriteAsync("""{"error":{"code":"invalid_token","reason":"Invalid token"}}""");
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        var connection = new PortalConnection(socket, context, request, plan);
        _connections.Writer.TryWrite(connection);
        await connection.RunAsync(_shutdown.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Resume();
        _shutdown.Cancel();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        _shutdown.Dispose();
    }
}

/// <summary>The portal's side of one accepted WebSocket: answers joins and heartbeats per its plan, records frames.</summary>
public sealed class PortalConnection
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(3);

    private readonly WebSocket _socket;
    private readonly HttpContext _context;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Channel<PortalFrame> _frames = Channel.CreateUnbounded<PortalFrame>();
    private readonly List<PortalFrame> _all = [];
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal PortalConnection(WebSocket socket, HttpContext context, PortalRequest request, PortalPlan plan)
    {
        _socket = socket;
        _context = context;
        Request = request;
        Join = plan.Join;
        JoinErrorReason = plan.JoinErrorReason;
        SendInit = plan.SendInit;
        AnswerHeartbeats = plan.AnswerHeartbeats;
    }

    public PortalRequest Request { get; }

    public volatile JoinReply Join;

    public string JoinErrorReason;

    public volatile bool SendInit;

    public volatile bool AnswerHeartbeats;

    /// <summary>Every frame received so far, in order.</summary>
    public IReadOnlyList<PortalFrame> Frames
    {
        get
        {
            lock (_all)
            {
                return _all.ToArray();
            }
        }
    }

    /// <summary>Completes when the WebSocket ends, with how it ended ("close 1000 NormalClosure" or "aborted").</summary>
    public Task<string> Closed => _closed.Task;

    /// <summary>The next frame not yet consumed by a wait.</summary>
    public Task<PortalFrame> NextFrameAsync(TimeSpan? timeout = null) => FakePortal.ReadAsync(_frames.Reader, timeout, "frame");

    /// <summary>Consumes frames until one matches.</summary>
    public async Task<PortalFrame> WaitForAsync(Func<PortalFrame, bool> match, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultWait);
        try
        {
            while (true)
            {
                var frame = await _frames.Reader.ReadAsync(cancel.Token);
                if (match(frame))
                {
                    return frame;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No matching frame within {(timeout ?? DefaultWait).TotalSeconds} s; received: {string.Join(" | ", Frames.Select(f => f.Raw))}");
        }
    }

    /// <summary>Sends raw text (any JSON, or not JSON at all).</summary>
    public async Task SendRawAsync(string text)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async Task SendBinaryAsync(byte[] data)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>A Phoenix V1 frame; <paramref name="refJson"/> is the raw JSON for ref ("null", "3").</summary>
    public Task PushAsync(string topic, string @event, string payloadJson, string refJson = "null") =>
        SendRawAsync($$"""{"topic":{{JsonSerializer.Serialize(topic)}},"event":{{JsonSerializer.Serialize(@event)}},"payload":{{payloadJson}},"ref":{{refJson}}}""");

    public Task ReplyAsync(PortalFrame to, string status, string responseJson = "{}") =>
        PushAsync(to.Topic, "phx_reply", $$"""{"status":"{{status}}","response":{{responseJson}}}""", to.Ref.GetRawText());

    /// <summary>Drops the TCP connection without a WebSocket close.</summary>
    public void Drop() => _context.Abort();

    /// <summary>Sends a WebSocket Close frame (the relay should answer it and reconnect).</summary>
    public async Task CloseAsync(WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure, string description = "bye")
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.CloseOutputAsync(status, description, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    internal async Task RunAsync(CancellationToken shutdown)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, shutdown);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult($"close {(int?)result.CloseStatus} {result.CloseStatus}");
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    }

                    return;
                }

                string raw = Encoding.UTF8.GetString(message.ToArray());
                PortalFrame frame = Parse(raw);
                lock (_all)
                {
                    _all.Add(frame);
                }

                _frames.Writer.TryWrite(frame);
                await AutoRespondAsync(frame);
            }
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            _closed.TrySetResult("the relay sent a frame that is not Phoenix V1 JSON: " + exception.Message);
        }
        catch (Exception)
        {
            // aborted by either side (Kestrel reports an abort as ConnectionAbortedException, WebSocketException, IOException)
        }
        finally
        {
            _closed.TrySetResult("aborted");
        }
    }

    private async Task AutoRespondAsync(PortalFrame frame)
    {
        if (frame.Event == "phx_join")
        {
            switch (Join)
            {
                case JoinReply.Ok:
                    await ReplyAsync(frame, "ok");
                    if (SendInit)
                    {
                        await PushAsync("relay", "init", "{}");
                    }

                    break;
                case JoinReply.Error:
                    await ReplyAsync(frame, "error", $$"""{"reason":{{JsonSerializer.Serialize(JoinErrorReason)}}}""");
                    break;
            }
        }
        else if (frame.Topic == "phoenix" && frame.Event == "heartbeat" && AnswerHeartbeats)
        {
            await ReplyAsync(frame, "ok");
        }
    }

    private static PortalFrame Parse(string raw)
    {
        using var document = JsonDocument.Parse(raw);
        JsonElement root = document.RootElement;
        return new PortalFrame(
            root.GetProperty("topic").GetString()!,
            root.GetProperty("event").GetString()!,
            root.GetProperty("payload").Clone(),
            root.GetProperty("ref").Clone(),
            raw);
    }
}
