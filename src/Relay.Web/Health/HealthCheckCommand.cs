using System.CommandLine;
using System.Net;
using Relay.Web.Configuration;

namespace Relay.Web.Health;

/// <summary>
/// <c>firezone-relay healthcheck [--url URL]</c>: exits 0 when the relay on this host answers GET /healthz with 200,
/// else 1 with the reason. The container image's HEALTHCHECK runs it, so the image needs no curl. Without --url it
/// asks the address of --health-check-addr (HEALTH_CHECK_ADDR), with a wildcard address replaced by loopback.
/// </summary>
public static class HealthCheckCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static Command Create(Func<string, string?> environment)
    {
        var url = new Option<string>("--url") { Description = "URL to check. Default: http://HEALTH_CHECK_ADDR/healthz, with 0.0.0.0 or :: as loopback." };
        var command = new Command("healthcheck", "Exit 0 when the local relay answers /healthz (for container health checks).") { url };
        command.SetAction(parse =>
        {
            string? problem = null;
            string? target = parse.GetValue(url) ?? DefaultUrl(environment("HEALTH_CHECK_ADDR") ?? "0.0.0.0:8080", out problem);
            if (target is null)
            {
                Console.Error.WriteLine($"unhealthy: HEALTH_CHECK_ADDR {problem}");
                return 1;
            }

            return Check(target);
        });
        return command;
    }

    internal static string? DefaultUrl(string healthCheckAddress, out string? problem)
    {
        if (!new EndpointParser().TryParse(healthCheckAddress, out object? parsed, out problem))
        {
            return null;
        }

        var endpoint = (IPEndPoint)parsed!;
        IPAddress address = endpoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
            : endpoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : endpoint.Address;
        return $"http://{new IPEndPoint(address, endpoint.Port)}/healthz";
    }

    private static int Check(string url)
    {
        try
        {
            using var http = new HttpClient { Timeout = Timeout };
            using HttpResponseMessage response = http.GetAsync(url).GetAwaiter().GetResult();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return 0;
            }

            Console.Error.WriteLine($"unhealthy: {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            return 1;
        }
        catch (Exception failure) when (failure is HttpRequestException or TaskCanceledException or UriFormatException or InvalidOperationException)
        {
            Console.Error.WriteLine($"unhealthy: {url}: {failure.Message}");
            return 1;
        }
    }
}
