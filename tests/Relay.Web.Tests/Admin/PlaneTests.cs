using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Relay.Web.Tests.Portal;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>Public and control endpoints stay apart, and a network-facing control endpoint demands the admin token.</summary>
public sealed class PlaneTests : IDisposable
{
    private const int PublicPort = 18080;
    private const int ControlPort = 19999;
    private readonly LogCapture _logs = new();
    private readonly RelayFactory _relay;

    public PlaneTests() => _relay = new(new()
    {
        ["health-check-addr"] = $"0.0.0.0:{PublicPort}",
        ["control-endpoint"] = $"0.0.0.0:{ControlPort}",
        ["admin-token"] = "s3cret-admin-token",
        ["log-filter"] = "info",
    })
    { Logs = _logs };

    private HttpClient Client(int port, string? token = null)
    {
        var http = _relay.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IStartupFilter, LocalPortFilter>())).CreateClient();
        http.DefaultRequestHeaders.Add(LocalPortFilter.Header, port.ToString());
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task Public_endpoints_answer_on_the_public_port_only(string path)
    {
        using var publicPort = Client(PublicPort);
        using var controlPort = Client(ControlPort, "s3cret-admin-token");
        Assert.Equal(HttpStatusCode.OK, (await publicPort.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await controlPort.GetAsync(path)).StatusCode);
    }

    [Theory]
    [InlineData("/admin/status")]
    [InlineData("/admin/allocations")]
    [InlineData("/swagger/v1/swagger.json")]
    [InlineData("/swagger/index.html")]
    public async Task Control_endpoints_answer_on_the_control_port_only(string path)
    {
        using var publicPort = Client(PublicPort, "s3cret-admin-token");
        using var controlPort = Client(ControlPort, "s3cret-admin-token");
        Assert.Equal(HttpStatusCode.NotFound, (await publicPort.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await controlPort.GetAsync(path)).StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData("s3cret-admin-token-but-longer")]
    public async Task Admin_requests_without_the_right_token_are_401_problems(string? token)
    {
        using var http = Client(ControlPort, token);
        var response = await http.GetAsync("/admin/status");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Authorization: Bearer", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/log_filter?directives=debug", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.DeleteAsync("/admin/allocations/1")).StatusCode);
        Assert.Equal(3, _logs.Entries.Count(e => e.Message.StartsWith("Refused admin request", StringComparison.Ordinal)
            && e.Message.Contains(token is null ? "no bearer token" : "a wrong bearer token", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_api_description_is_readable_without_the_token_but_not_the_api()
    {
        using var http = Client(ControlPort);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/swagger/v1/swagger.json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/admin/allocations")).StatusCode);
    }

    public void Dispose() => _relay.Dispose();
}
