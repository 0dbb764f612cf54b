using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Relay.Web.Tests.Support;

/// <summary>Asserts RFC 7807 problem+json answers.</summary>
public static class ProblemAssert
{
    /// <summary>The response is <paramref name="status"/> as problem+json whose detail contains <paramref name="detailContains"/>.</summary>
    public static async Task<JsonElement> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains = "")
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Contains(detailContains, problem.GetProperty("detail").GetString());
        return problem;
    }
}
