using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Relay.Web.Tests.Cloud;

/// <summary>
/// A cloud instance metadata service on loopback, as GCE's and AWS's answer: GCE requires the Metadata-Flavor
/// header, AWS (IMDSv2) a session token from PUT /latest/api/token on every GET. Paths it has no value for are 404.
/// </summary>
public sealed class MetadataStub : IAsyncDisposable
{
    public const string AwsToken = "imds-session-token";

    private readonly WebApplication _app;

    private MetadataStub(WebApplication app, IReadOnlyDictionary<string, string> values)
    {
        _app = app;
        Values = values;
    }

    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>Requests that lacked the header or token the service requires (the relay must never send one).</summary>
    public ConcurrentQueue<string> Refused { get; } = new();

    public Uri Endpoint => new(_app.Urls.First());

    /// <param name="values">Path (without the leading '/') to value.</param>
    public static async Task<MetadataStub> StartAsync(Dictionary<string, string> values)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var stub = new MetadataStub(app, values);
        app.MapPut("/latest/api/token", (HttpContext http) =>
            http.Request.Headers["X-aws-ec2-metadata-token-ttl-seconds"].Count == 1 ? Results.Text(AwsToken) : stub.Refuse(http));
        app.MapGet("/{**path}", (HttpContext http, string path) =>
        {
            bool authorized = path.StartsWith("computeMetadata/v1/", StringComparison.Ordinal)
                ? http.Request.Headers["Metadata-Flavor"] == "Google"
                : http.Request.Headers["X-aws-ec2-metadata-token"] == AwsToken;
            if (!authorized)
            {
                return stub.Refuse(http);
            }

            return values.TryGetValue(path, out string? value) ? Results.Text(value) : Results.NotFound();
        });
        await app.StartAsync();
        return stub;
    }

    private IResult Refuse(HttpContext http)
    {
        Refused.Enqueue(http.Request.Method + " " + http.Request.Path);
        return Results.StatusCode(StatusCodes.Status401Unauthorized);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
