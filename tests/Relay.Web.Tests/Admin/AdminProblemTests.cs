using System.Net;
using System.Text;
using System.Text.Json;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>Every error either listener answers is problem+json with a detail that says what to change.</summary>
public sealed class AdminProblemTests : IDisposable
{
    private readonly RelayFactory _relay = new();
    private readonly HttpClient _http;

    public AdminProblemTests() => _http = _relay.CreateClient();

    [Theory]
    [InlineData("/admin/allocations/abc", HttpStatusCode.BadRequest, "id must be one whole number; 'abc' is not")]
    [InlineData("/admin/allocations?limit=abc", HttpStatusCode.BadRequest, "limit must be one whole number from 1 to 1000; 'abc' is not")]
    [InlineData("/admin/allocations?limit=99999999999", HttpStatusCode.BadRequest, "limit must be one whole number from 1 to 1000; '99999999999' is not")]
    [InlineData("/admin/allocations?limit=1&limit=2", HttpStatusCode.BadRequest, "limit must be one whole number from 1 to 1000; '1,2' is not")]
    [InlineData("/admin/allocations?limit=0", HttpStatusCode.BadRequest, "limit must be between 1 and 1000")]
    [InlineData("/admin/nothing-here", HttpStatusCode.NotFound, "There is nothing at GET /admin/nothing-here")]
    [InlineData("/admin/ebpf/maps/nope", HttpStatusCode.Conflict, "eBPF offloading is not enabled")]
    public async Task Bad_queries_and_paths_are_problems(string path, HttpStatusCode status, string detail) =>
        await ProblemAssert.IsProblemAsync(await _http.GetAsync(path), status, detail);

    [Theory]
    [InlineData("{bad json", "The body is not valid JSON (line 1, byte 2)")]
    [InlineData("[]", "The body must be one JSON object")]
    [InlineData("{\"ttlSeconds\":\"abc\"}", "ttlSeconds has the wrong type: it must be a whole number")]
    [InlineData("{\"salt\":5}", "salt has the wrong type: it must be a string")]
    [InlineData("{\"ttlSeconds\": 1}", "ttlSeconds must be between 60 and 31536000 seconds; it was 1")]
    public async Task Bad_credential_bodies_are_problems(string body, string detail) =>
        await ProblemAssert.IsProblemAsync(await _http.PostAsync("/admin/credentials", new StringContent(body, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, detail);

    [Fact]
    public async Task A_body_that_is_not_json_is_415() =>
        await ProblemAssert.IsProblemAsync(await _http.PostAsync("/admin/credentials", new StringContent("salt=alice", Encoding.UTF8, "text/plain")),
            HttpStatusCode.UnsupportedMediaType, "as JSON with 'Content-Type: application/json'");

    [Fact]
    public async Task A_wrong_method_is_405_naming_the_right_one() =>
        await ProblemAssert.IsProblemAsync(await _http.PutAsync("/admin/status", null), HttpStatusCode.MethodNotAllowed, "/admin/status does not take PUT; it takes GET");

    /// <summary>Walks every operation of the OpenAPI document with inputs it must refuse: never a 500, never an empty error.</summary>
    [Fact]
    public async Task Every_operation_answers_bad_input_with_a_problem_and_never_a_500()
    {
        JsonElement document = JsonDocument.Parse(await _http.GetStringAsync("/swagger/v1/swagger.json")).RootElement;
        int probes = 0;
        foreach (JsonProperty path in document.GetProperty("paths").EnumerateObject())
        {
            if (path.Name == "/admin/drain")
            {
                continue; // takes no input and stops the relay: DrainTests runs it against the real binary
            }

            foreach (JsonProperty operation in path.Value.EnumerateObject())
            {
                string method = operation.Name.ToUpperInvariant();
                var parameters = operation.Value.TryGetProperty("parameters", out JsonElement list) ? list.EnumerateArray().ToList() : [];
                string route = path.Name;
                foreach (JsonElement parameter in parameters.Where(p => p.GetProperty("in").GetString() == "path"))
                {
                    route = route.Replace("{" + parameter.GetProperty("name").GetString() + "}", "not-a-value", StringComparison.Ordinal);
                }

                var requests = new List<HttpRequestMessage>();
                foreach (JsonElement parameter in parameters.Where(p => p.GetProperty("in").GetString() == "query"))
                {
                    string name = parameter.GetProperty("name").GetString()!;
                    foreach (string value in new[] { "abc", "99999999999", "-1", "%00", "1&" + name + "=2" })
                    {
                        requests.Add(new HttpRequestMessage(new HttpMethod(method), $"{route}?{name}={value}"));
                    }
                }

                if (operation.Value.TryGetProperty("requestBody", out _))
                {
                    foreach (string body in new[] { "{bad json", "[]", "{\"ttlSeconds\":\"abc\"}", "{\"salt\":[1]}", "null", "" })
                    {
                        requests.Add(new HttpRequestMessage(new HttpMethod(method), route) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
                    }

                    requests.Add(new HttpRequestMessage(new HttpMethod(method), route) { Content = new StringContent("x", Encoding.UTF8, "text/plain") });
                }

                requests.Add(new HttpRequestMessage(new HttpMethod(method), route));
                requests.Add(new HttpRequestMessage(method == "PATCH" ? HttpMethod.Put : HttpMethod.Patch, route));
                foreach (HttpRequestMessage request in requests)
                {
                    string description = $"{request.Method} {request.RequestUri}";
                    HttpResponseMessage response = await _http.SendAsync(request);
                    probes++;
                    Assert.True((int)response.StatusCode < 500, $"{description} answered {(int)response.StatusCode}");
                    if (!response.IsSuccessStatusCode)
                    {
                        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{description} answered {(int)response.StatusCode} without problem+json");
                        JsonElement problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"{description}: no detail");
                    }
                }
            }
        }

        Assert.True(probes > 50, $"only {probes} probes: the document lists fewer operations than expected");
    }

    [Fact]
    public async Task The_openapi_document_gives_the_ranges()
    {
        JsonElement document = JsonDocument.Parse(await _http.GetStringAsync("/swagger/v1/swagger.json")).RootElement;
        JsonElement limit = document.GetProperty("paths").GetProperty("/admin/allocations").GetProperty("get").GetProperty("parameters").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == "limit").GetProperty("schema");
        Assert.Equal(1, limit.GetProperty("minimum").GetInt32());
        Assert.Equal(1000, limit.GetProperty("maximum").GetInt32());
        JsonElement ttl = document.GetProperty("components").GetProperty("schemas").GetProperty("CredentialsRequest").GetProperty("properties").GetProperty("ttlSeconds");
        Assert.Equal(60, ttl.GetProperty("minimum").GetInt32());
        Assert.Equal(31536000, ttl.GetProperty("maximum").GetInt32());
    }

    public void Dispose()
    {
        _http.Dispose();
        _relay.Dispose();
    }
}
