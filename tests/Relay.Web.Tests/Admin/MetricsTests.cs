using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>/metrics after real traffic over UDP shows the live counters with the right values.</summary>
[Collection(MetricsCollection.Name)]
public sealed class MetricsTests : IDisposable
{
    private readonly RelayFactory _relay = new();

    private async Task<string> ScrapeAsync()
    {
        using var http = _relay.CreateClient();
        var response = await http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }


    [Fact]
    public async Task Counters_follow_real_traffic()
    {
        using var client = new UdpTurnClient(_relay.ListenV4, "metrics");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        var relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4000, peer.EndPoint);
        await client.CreatePermissionAsync(peer.EndPoint);
        for (int i = 0; i < 5; i++)
        {
            await client.SendChannelDataAsync(0x4000, new byte[150]);
            await peer.ReceiveAsync();
        }

        for (int i = 0; i < 3; i++)
        {
            await peer.SendAsync(new byte[1000], relayed);
            await client.ReceiveAsync();
        }

        await client.SendChannelDataAsync(0x4321, new byte[10]); // unbound: dropped
        await client.ExchangeAsync(Relay.TestSupport.MessageSpecFactory.Binding());

        string scrape = await ScrapeAsync();
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_active_allocations"));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_active_channels"));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_active_permissions"));
        Assert.Equal(5, Prometheus.Sample(scrape, "relay_relayed_packets_total", "relay_datapath=\"userspace\"", "relay_route=\"44\"", "relay_direction=\"client_to_peer\""));
        Assert.Equal(750, Prometheus.Sample(scrape, "relay_relayed_bytes_total", "relay_route=\"44\"", "relay_direction=\"client_to_peer\""));
        Assert.Equal(3, Prometheus.Sample(scrape, "relay_relayed_packets_total", "relay_route=\"44\"", "relay_direction=\"peer_to_client\""));
        Assert.Equal(3000, Prometheus.Sample(scrape, "relay_relayed_bytes_total", "relay_route=\"44\"", "relay_direction=\"peer_to_client\""));
        Assert.Equal(0, Prometheus.Sample(scrape, "relay_relayed_packets_total", "relay_route=\"66\"", "relay_direction=\"client_to_peer\""));
        Assert.Equal(8, Prometheus.Sample(scrape, "relay_packet_size_bytes_count", "relay_datapath=\"userspace\""));
        Assert.Equal(3750, Prometheus.Sample(scrape, "relay_packet_size_bytes_sum", "relay_datapath=\"userspace\""));
        Assert.Equal(5, Prometheus.Sample(scrape, "relay_packet_size_bytes_bucket", "le=\"200\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_dropped_packets_total", "reason=\"unknown_channel\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_responses_total", "message_type=\"allocate\"", "response_class=\"success\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_responses_total", "message_type=\"allocate\"", "response_class=\"error\"", "error_code=\"401\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_responses_total", "message_type=\"channelbind\"", "response_class=\"success\""));
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_responses_total", "message_type=\"binding\"", "response_class=\"success\""));
        Assert.DoesNotContain("relay_auth_failures_total", scrape); // the login's 401 challenge is not a failure
        Assert.Equal(1, Prometheus.Sample(scrape, "relay_portal_state", "state=\"standalone\""));
        Assert.Equal(0, Prometheus.Sample(scrape, "relay_portal_state", "state=\"joined\""));
        Assert.Contains("target_info{", scrape);
        Assert.Contains("service_name=\"relay\"", scrape);
        Assert.Contains("service_namespace=\"firezone\"", scrape);
        Assert.DoesNotContain(client.Signer.Username, scrape); // labels never carry usernames or addresses
        Assert.DoesNotContain("127.0.0.1", scrape);

        // Live: an eviction shows at once, not at session end.
        await client.RefreshAsync(0);
        Assert.Equal(0, Prometheus.Sample(await ScrapeAsync(), "relay_active_allocations"));
    }

    public void Dispose() => _relay.Dispose();
}
