using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// The built relay as a process in portal mode against a minimal Phoenix V1 portal on loopback: it joins and turns
/// ready, and a refusal by the portal ends the process with exit code 3 and a message on stderr.
/// </summary>
public sealed class PortalProcessTests
{
    private const string Token = "interop-portal-token-do-not-print";
    private const string Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static RelayProcess StartRelay(MiniPortal portal) =>
        RelayProcess.Start(
            [
                "--public-ip4-addr", "127.0.0.1", "--bind-ip4-addr", "127.0.0.1", "--listen-port", "0",
                "--lowest-port", "40000", "--highest-port", "40100",
                "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0",
                "--api-url", portal.ApiUrl, "--log-filter", "info",
            ],
            new() { ["FIREZONE_TOKEN"] = Token, ["RELAY_SECRET"] = Secret });

    [Fact]
    public async Task The_relay_joins_the_portal_becomes_ready_and_stops_cleanly()
    {
        await using var portal = await MiniPortal.StartAsync(MiniPortal.Mode.Accept);
        using var relay = StartRelay(portal);
        await relay.WaitUntilListeningAsync();

        string join = await portal.Joins.Task.WaitAsync(TimeSpan.FromSeconds(15));
        using (var frame = JsonDocument.Parse(join))
        {
            Assert.Equal(Secret, frame.RootElement.GetProperty("payload").GetProperty("stamp_secret").GetString());
        }

        Assert.Equal("Bearer " + Token, portal.Authorization);
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        HttpResponseMessage ready;
        while ((ready = await http.GetAsync($"http://127.0.0.1:{relay.HttpPort}/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("joined", (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("portal").GetString());

        Assert.Equal(0, await relay.TerminateAsync());
        Assert.Contains("Joined the portal", relay.Output);
        Assert.DoesNotContain(Token, relay.Output);
    }

    [Fact]
    public async Task A_join_error_ends_the_process_with_exit_code_3()
    {
        await using var portal = await MiniPortal.StartAsync(MiniPortal.Mode.RefuseJoin);
        using var relay = StartRelay(portal);
        int code = await relay.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, code);
        Assert.Contains("error: the portal refused the relay's join (invalid_version)", relay.Output);
    }

    [Fact]
    public async Task Http_401_ends_the_process_with_exit_code_3_naming_the_token_variable()
    {
        await using var portal = await MiniPortal.StartAsync(MiniPortal.Mode.Unauthorized);
        using var relay = StartRelay(portal);
        int code = await relay.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, code);
        Assert.Contains("error: the portal rejected the relay's token (HTTP 401 Unauthorized): check FIREZONE_TOKEN", relay.Output);
        Assert.DoesNotContain(Token, relay.Output);
        Assert.Equal(1, portal.Requests);
    }

    /// <summary>Just enough of the portal's relay socket for process tests (the full fake lives in Relay.Web.Tests).</summary>
    private sealed class MiniPortal : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly CancellationTokenSource _stop = new();
        private int _requests;

        private MiniPortal(WebApplication app, Mode mode)
        {
            _app = app;
            app.UseWebSockets();
            app.Run(context => HandleAsync(context, mode));
        }

        public enum Mode
        {
            Accept,
            RefuseJoin,
            Unauthorized,
        }

        public string ApiUrl { get; private set; } = "";

        public string? Authorization { get; private set; }

        public int Requests => Volatile.Read(ref _requests);

        public TaskCompletionSource<string> Joins { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static async Task<MiniPortal> StartAsync(Mode mode)
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
            var portal = new MiniPortal(builder.Build(), mode);
            await portal._app.StartAsync();
            string address = portal._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            portal.ApiUrl = "http://127.0.0.1:" + new Uri(address).Port; // http maps to ws
            return portal;
        }

        private async Task HandleAsync(HttpContext context, Mode mode)
        {
            Interlocked.Increment(ref _requests);
            Authorization = context.Request.Headers["X-Authorization"].ToString();
            if (mode == Mode.Unauthorized || !context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                        return;
                    }

                    string text = Encoding.UTF8.GetString(buffer, 0, result.Count);
                    using var frame = JsonDocument.Parse(text);
                    string @event = frame.RootElement.GetProperty("event").GetString()!;
                    string topic = frame.RootElement.GetProperty("topic").GetString()!;
                    string reference = frame.RootElement.GetProperty("ref").GetRawText();
                    if (@event == "phx_join")
                    {
                        Joins.TrySetResult(text);
                        string reply = mode == Mode.Accept ? """{"status":"ok","response":{}}""" : """{"status":"error","response":{"reason":"invalid_version"}}""";
                        await SendAsync(socket, $$"""{"topic":"relay","event":"phx_reply","payload":{{reply}},"ref":{{reference}}}""");
                        if (mode == Mode.Accept)
                        {
                            await SendAsync(socket, """{"topic":"relay","event":"init","payload":{},"ref":null}""");
                        }
                    }
                    else if (topic == "phoenix" && @event == "heartbeat")
                    {
                        await SendAsync(socket, $$$"""{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":{{{reference}}}}""");
                    }
                }
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
            {
            }
        }

        private static Task SendAsync(WebSocket socket, string text) =>
            socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
            _stop.Dispose();
        }
    }
}
