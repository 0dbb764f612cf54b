using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Relay.Core.Auth;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Admin;
using Relay.Web.Logging;
using Relay.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Relay.Web.Tests.Admin;

/// <summary>The admin API through the test server, with allocations made over real UDP.</summary>
public sealed class AdminApiTests : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly RelayFactory _relay = new();
    private readonly HttpClient _http;

    public AdminApiTests() => _http = _relay.CreateClient();

    private async Task<(UdpTurnClient Client, long Id)> AllocatedAsync(string user, UdpPeer? peer = null)
    {
        var client = new UdpTurnClient(_relay.ListenV4, user);
        await client.AllocateAsync();
        if (peer is not null)
        {
            await client.ChannelBindAsync(0x4000, peer.EndPoint);
        }

        var page = await _http.GetFromJsonAsync<AllocationPage>($"/admin/allocations?username={Uri.EscapeDataString(client.Signer.Username)}", Json);
        return (client, Assert.Single(page!.Items).Id);
    }

    private static Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains) =>
        ProblemAssert.IsProblemAsync(response, status, detailContains);

    [Fact]
    public async Task Allocations_are_listed_with_their_details()
    {
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        var (client, id) = await AllocatedAsync("alice", peer);
        using (client)
        {
            await client.SendChannelDataAsync(0x4000, new byte[50]);
            await peer.ReceiveAsync();

            var allocation = await _http.GetFromJsonAsync<AllocationModel>($"/admin/allocations/{id}", Json);
            Assert.NotNull(allocation);
            Assert.Equal(client.LocalEndPoint.ToString(), allocation.Client);
            Assert.Equal("udp", allocation.Transport);
            Assert.Equal(client.Signer.Username, allocation.Username);
            Assert.Single(allocation.RelayedAddresses);
            Assert.StartsWith("127.0.0.1:", allocation.RelayedAddresses[0]);
            Assert.InRange(allocation.RemainingLifetimeSeconds, 590, 600);
            var channel = Assert.Single(allocation.Channels);
            Assert.Equal((0x4000, "0x4000", peer.EndPoint.ToString(), true), (channel.Number, channel.Hex, channel.Peer, channel.Bound));
            Assert.Equal("127.0.0.1", Assert.Single(allocation.Permissions).Peer);
            Assert.Equal(new TrafficModel(1, 50, 0, 0), allocation.Traffic);
            Assert.Equal("userspace", allocation.DataPath);
        }
    }

    [Fact]
    public async Task Listing_filters_by_username_client_and_peer_and_pages_in_id_order()
    {
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        var clients = new List<UdpTurnClient>();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                var (client, _) = await AllocatedAsync($"pager{i}", i == 2 ? peer : null);
                clients.Add(client);
            }

            var all = await _http.GetFromJsonAsync<AllocationPage>("/admin/allocations", Json);
            Assert.Equal(5, all!.Total);
            Assert.Equal(all.Items.Select(a => a.Id).Order(), all.Items.Select(a => a.Id));
            Assert.Null(all.NextCursor);

            var pages = new List<long>();
            string? cursor = null;
            do
            {
                var page = await _http.GetFromJsonAsync<AllocationPage>($"/admin/allocations?limit=2{(cursor is null ? "" : "&cursor=" + cursor)}", Json);
                Assert.InRange(page!.Items.Count, 1, 2);
                pages.AddRange(page.Items.Select(a => a.Id));
                cursor = page.NextCursor;
            }
            while (cursor is not null);
            Assert.Equal(all.Items.Select(a => a.Id), pages);

            var byClient = await _http.GetFromJsonAsync<AllocationPage>($"/admin/allocations?client={clients[3].LocalEndPoint}", Json);
            Assert.Equal(clients[3].Signer.Username, Assert.Single(byClient!.Items).Username);
            var byIp = await _http.GetFromJsonAsync<AllocationPage>("/admin/allocations?client=127.0.0.1", Json);
            Assert.Equal(5, byIp!.Total);
            var byPeer = await _http.GetFromJsonAsync<AllocationPage>($"/admin/allocations?peer={peer.EndPoint}", Json);
            Assert.Equal(clients[2].Signer.Username, Assert.Single(byPeer!.Items).Username);
            var byPeerIp = await _http.GetFromJsonAsync<AllocationPage>("/admin/allocations?peer=127.0.0.1", Json);
            Assert.Single(byPeerIp!.Items);
            var none = await _http.GetFromJsonAsync<AllocationPage>("/admin/allocations?username=nobody", Json);
            Assert.Empty(none!.Items);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Theory]
    [InlineData("limit=0", "limit must be between 1 and 1000")]
    [InlineData("limit=1001", "limit must be between 1 and 1000")]
    [InlineData("cursor=abc", "cursor 'abc'")]
    [InlineData("client=not-an-address", "'not-an-address' is not an IP address")]
    [InlineData("peer=peer.example", "'peer.example' is not an IP address")]
    public async Task Bad_list_parameters_are_400_problems(string query, string detail) =>
        await AssertProblemAsync(await _http.GetAsync($"/admin/allocations?{query}"), HttpStatusCode.BadRequest, detail);

    [Fact]
    public async Task Unknown_allocations_are_404_problems()
    {
        await AssertProblemAsync(await _http.GetAsync("/admin/allocations/987654"), HttpStatusCode.NotFound, "No allocation has id 987654");
        await AssertProblemAsync(await _http.DeleteAsync("/admin/allocations/987654"), HttpStatusCode.NotFound, "987654");
    }

    [Fact]
    public async Task Evicting_an_allocation_frees_it_and_the_client_then_gets_437_over_udp()
    {
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        var (client, id) = await AllocatedAsync("evictee", peer);
        using (client)
        {
            int sockets = _relay.Runtime.AllocationSocketCount;
            Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/admin/allocations/{id}")).StatusCode);
            await Eventually.TrueAsync(() => _relay.Runtime.AllocationSocketCount == sockets - 1, "the data plane to close the evicted allocation's socket");
            Assert.Equal(437, (await client.RefreshAsync(600)).ErrorCode);
            await client.SendChannelDataAsync(0x4000, [1, 2, 3]);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => peer.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
            Assert.Equal(HttpStatusCode.NotFound, (await _http.DeleteAsync($"/admin/allocations/{id}")).StatusCode);
        }
    }

    [Fact]
    public async Task Evicting_by_username_needs_the_username()
    {
        using var turnRest = new RelayFactory(new() { ["auth-scheme"] = "turn-rest", ["relay-secret"] = "interop-secret" });
        using var http = turnRest.CreateClient();
        using var a = new UdpTurnClient(turnRest.ListenV4, "carol", AuthScheme.TurnRest, "interop-secret");
        using var b = new UdpTurnClient(turnRest.ListenV4, "carol", AuthScheme.TurnRest, "interop-secret");
        b.Signer.Username = a.Signer.Username;
        b.Signer.Password = a.Signer.Password;
        await a.AllocateAsync();
        await b.AllocateAsync();

        await AssertProblemAsync(await http.DeleteAsync("/admin/allocations"), HttpStatusCode.BadRequest, "username is required");
        var result = await (await http.DeleteAsync($"/admin/allocations?username={Uri.EscapeDataString(a.Signer.Username)}")).Content.ReadFromJsonAsync<EvictionResult>(Json);
        Assert.Equal(2, result!.Evicted);
        Assert.Equal(437, (await a.RefreshAsync(600)).ErrorCode);
        Assert.Equal(437, (await b.RefreshAsync(600)).ErrorCode);
    }

    [Fact]
    public async Task Minted_credentials_work_over_udp()
    {
        var response = await _http.PostAsJsonAsync("/admin/credentials", new CredentialsRequest { Salt = "dave", TtlSeconds = 3600 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var minted = await response.Content.ReadFromJsonAsync<CredentialsResponse>(Json);
        Assert.EndsWith(":dave", minted!.Username);
        Assert.Equal("firezone", minted.Realm);
        Assert.InRange((minted.ExpiresAt - DateTimeOffset.UtcNow).TotalSeconds, 3500, 3601);
        Assert.Equal([$"turn:127.0.0.1:{_relay.Runtime.ListenPort}?transport=udp", $"turn:[::1]:{_relay.Runtime.ListenPort}?transport=udp"], minted.Urls);

        using var client = new UdpTurnClient(_relay.ListenV4, "ignored");
        client.Signer.Username = minted.Username;
        client.Signer.Password = minted.Password;
        await client.AllocateAsync();

        var random = await (await _http.PostAsJsonAsync("/admin/credentials", new { })).Content.ReadFromJsonAsync<CredentialsResponse>(Json);
        Assert.InRange((random!.ExpiresAt - DateTimeOffset.UtcNow).TotalHours, 23.9, 24.01);
    }

    [Theory]
    [InlineData("{\"ttlSeconds\": 5}", "ttlSeconds must be between 60 and 31536000")]
    [InlineData("{\"salt\": \"a:b\"}", "salt must not contain ':'")]
    public async Task Bad_credential_requests_are_400_problems(string body, string detail) =>
        await AssertProblemAsync(await _http.PostAsync("/admin/credentials", new StringContent(body, System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, detail);

    [Theory]
    [InlineData("/admin/ebpf/maps")]
    [InlineData("/admin/ebpf/stats")]
    public async Task Ebpf_endpoints_are_409_while_xdp_is_not_loaded(string path) =>
        await AssertProblemAsync(await _http.GetAsync(path), HttpStatusCode.Conflict, "eBPF offloading is not enabled; start with --ebpf-offloading <iface>");

    [Fact]
    public async Task The_log_filter_changes_at_runtime_and_bad_directives_are_400()
    {
        var filter = _relay.Services.GetRequiredService<DynamicLogFilter>();
        var response = await _http.PostAsync("/log_filter?directives=warn,relay=debug", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("warn,relay=debug", filter.Current.Text);
        Assert.True(filter.IsEnabled("Relay.Web.Udp.RelayEventLoop", Microsoft.Extensions.Logging.LogLevel.Debug));
        Assert.False(filter.IsEnabled("Microsoft.AspNetCore.Routing", Microsoft.Extensions.Logging.LogLevel.Information));

        await AssertProblemAsync(await _http.PostAsync("/log_filter?directives=relay=loud", null), HttpStatusCode.BadRequest, "invalid log directive 'relay=loud'");
        await AssertProblemAsync(await _http.PostAsync("/log_filter", null), HttpStatusCode.BadRequest, "directives is required");
        Assert.Equal("warn,relay=debug", filter.Current.Text);
    }

    [Fact]
    public async Task Status_reports_the_relay()
    {
        var status = await _http.GetFromJsonAsync<StatusModel>("/admin/status", Json);
        Assert.Equal("standalone", status!.Mode);
        Assert.Equal(["127.0.0.1", "::1"], status.PublicAddresses);
        Assert.Equal(_relay.Runtime.ListenPort, status.ListenPort);
        Assert.Equal("firezone", status.AuthScheme);
        Assert.Equal("userspace", status.DataPath);
        Assert.Equal("standalone", status.Portal);
        Assert.Null(status.PortalDetails);
    }

    public void Dispose()
    {
        _http.Dispose();
        _relay.Dispose();
    }
}
