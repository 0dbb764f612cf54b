using System.Net;

namespace Relay.Web.Cloud;

/// <summary>The GCE metadata server: GET computeMetadata/v1/PATH with the header that proves the caller is local.</summary>
internal sealed class GceMetadata(HttpClient http, Uri endpoint, string setting)
{
    /// <summary>The value at <paramref name="path"/>, or null when the instance has none (404).</summary>
    public Task<string?> GetAsync(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, "computeMetadata/v1/" + path));
        request.Headers.Add("Metadata-Flavor", "Google");
        return MetadataRequest.SendAsync(http, request, setting);
    }
}

/// <summary>AWS IMDSv2: a session token from PUT latest/api/token, then each GET carries it.</summary>
internal sealed class AwsMetadata
{
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string _setting;
    private readonly string _token;

    private AwsMetadata(HttpClient http, Uri endpoint, string setting, string token)
    {
        _http = http;
        _endpoint = endpoint;
        _setting = setting;
        _token = token;
    }

    public static async Task<AwsMetadata> ConnectAsync(HttpClient http, Uri endpoint, string setting)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, new Uri(endpoint, "latest/api/token"));
        request.Headers.Add("X-aws-ec2-metadata-token-ttl-seconds", "60");
        string token = await MetadataRequest.SendAsync(http, request, setting)
            ?? throw new Udp.RelayStartupException($"{setting}: the metadata service at {endpoint} gave no IMDSv2 token");
        return new AwsMetadata(http, endpoint, setting, token);
    }

    public Task<string?> GetAsync(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_endpoint, path));
        request.Headers.Add("X-aws-ec2-metadata-token", _token);
        return MetadataRequest.SendAsync(_http, request, _setting);
    }
}

internal static class MetadataRequest
{
    public static async Task<string?> SendAsync(HttpClient http, HttpRequestMessage request, string setting)
    {
        using (request)
        {
            try
            {
                using HttpResponseMessage response = await http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    return null;
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new Udp.RelayStartupException($"{setting}: {request.RequestUri} answered {(int)response.StatusCode} {response.ReasonPhrase}");
                }

                return (await response.Content.ReadAsStringAsync()).Trim();
            }
            catch (Exception failure) when (failure is HttpRequestException or TaskCanceledException)
            {
                throw new Udp.RelayStartupException($"{setting}: cannot reach the metadata service at {request.RequestUri} ({failure.Message.TrimEnd('.')}); is this a cloud VM?");
            }
        }
    }
}
