using System.Text.Json;
using System.Net;
using System.Net.Http.Json;
using Relay.Web.Health;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests;

public sealed class HealthTests : IDisposable
{
    private readonly RelayFactory _standalone = new();

    [Fact]
    public async Task Healthz_and_readyz_report_a_standalone_relay_as_ready()
    {
        using var http = _standalone.CreateClient();
        var live = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("application/json", live.Content.Headers.ContentType?.MediaType);
        Assert.Equal("ok", (await live.Content.ReadFromJsonAsync<HealthEndpoints.HealthStatus>())!.Status);

        var ready = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var status = await ready.Content.ReadFromJsonAsync<HealthEndpoints.HealthStatus>();
        Assert.Equal(new HealthEndpoints.HealthStatus("ready", true, "standalone"), status);
    }

    [Fact]
    public async Task Readyz_is_503_in_portal_mode_until_the_portal_join()
    {
        using var portal = new RelayFactory(new() { ["token"] = "secret-token", ["api-url"] = "ws://127.0.0.1:9/" });
        using var http = portal.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        var ready = await http.GetAsync("/readyz");
        var problem = await ProblemAssert.IsProblemAsync(ready, HttpStatusCode.ServiceUnavailable, "The relay is not ready: the portal is not joined");
        Assert.Contains(problem.GetProperty("portal").GetString(), new[] { "connecting", "disconnected" });

        portal.Runtime.PortalJoined = true;
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
    }

    public void Dispose() => _standalone.Dispose();
}
