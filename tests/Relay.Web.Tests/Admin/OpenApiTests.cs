using System.Text.Json;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>The OpenAPI description documents every admin endpoint, with descriptions, errors and examples.</summary>
public sealed class OpenApiTests : IDisposable
{
    private readonly RelayFactory _relay = new();

    [Fact]
    public async Task Every_admin_operation_has_a_summary_a_description_and_its_problem_responses()
    {
        using var http = _relay.CreateClient();
        var document = JsonDocument.Parse(await http.GetStringAsync("/swagger/v1/swagger.json")).RootElement;
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString());
        var paths = document.GetProperty("paths");
        var expected = new Dictionary<string, string[]>
        {
            ["/admin/allocations"] = ["get", "delete"],
            ["/admin/allocations/{id}"] = ["get", "delete"],
            ["/admin/credentials"] = ["post"],
            ["/admin/drain"] = ["post"],
            ["/admin/status"] = ["get"],
            ["/admin/ebpf/maps"] = ["get"],
            ["/admin/ebpf/maps/{name}"] = ["get"],
            ["/admin/ebpf/stats"] = ["get"],
            ["/log_filter"] = ["post"],
        };
        Assert.Equal(expected.Keys.Order(), paths.EnumerateObject().Select(p => p.Name).Order());
        foreach (var (path, methods) in expected)
        {
            foreach (string method in methods)
            {
                var operation = paths.GetProperty(path).GetProperty(method);
                Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()), $"{method} {path} has no summary");
                Assert.True(operation.GetProperty("description").GetString()!.Length > 30, $"{method} {path} has no real description");
                Assert.NotEmpty(operation.GetProperty("responses").EnumerateObject());
            }
        }

        Assert.True(paths.GetProperty("/admin/allocations/{id}").GetProperty("get").GetProperty("responses").TryGetProperty("404", out _));
        Assert.True(paths.GetProperty("/admin/ebpf/maps").GetProperty("get").GetProperty("responses").TryGetProperty("409", out _));

        // Examples and field descriptions come from the models' documentation.
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var request = schemas.GetProperty("CredentialsRequest").GetProperty("properties");
        Assert.Equal(3600, request.GetProperty("ttlSeconds").GetProperty("example").GetInt32());
        Assert.Contains("Lifetime of the credentials", request.GetProperty("ttlSeconds").GetProperty("description").GetString());
        Assert.Equal("alice", request.GetProperty("salt").GetProperty("example").GetString());
        Assert.Contains("relay port is closed", paths.GetProperty("/admin/allocations/{id}").GetProperty("delete").GetProperty("description").GetString());
        Assert.True(document.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("bearer", out _));
    }

    public void Dispose() => _relay.Dispose();
}
