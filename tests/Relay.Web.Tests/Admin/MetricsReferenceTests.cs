using System.Net.Sockets;
using System.Text.RegularExpressions;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Stun;
using Relay.TestSupport;
using Relay.Web.Tests.Support;

namespace Relay.Web.Tests.Admin;

/// <summary>
/// docs/metrics.md lists every <c>relay_*</c> family /metrics exports, with the type the scrape declares: a family the
/// relay exports but the page lacks fails, and so does one the page names that the relay no longer exports. Families
/// that only exist while the XDP fast path runs are marked "yes" in the page's "Needs --ebpf-offloading" column;
/// the reverse check skips them (this test has no kernel), and a fake fast path checks that the ones it can produce
/// are documented and marked.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed partial class MetricsReferenceTests
{
    private static readonly string DocPath = Path.Combine(Repository.Root, "docs", "metrics.md");

    [Fact]
    public async Task Every_relay_family_on_metrics_is_in_docs_metrics_md_and_every_documented_one_is_exported()
    {
        Dictionary<string, string> exported;
        using (var relay = new RelayFactory())
        {
            await CauseTrafficAsync(relay);
            exported = Families(await ScrapeAsync(relay));
        }

        Dictionary<string, DocumentedFamily> documented = ReadDoc();

        var undocumented = exported.Keys.Where(name => !documented.ContainsKey(name)).Order().ToList();
        Assert.True(undocumented.Count == 0, $"docs/metrics.md lacks these families /metrics exports: {string.Join(", ", undocumented)}");

        var wrongType = exported.Where(e => documented[e.Key].Type != e.Value).Select(e => $"{e.Key} is a {e.Value}, not a {documented[e.Key].Type}").ToList();
        Assert.True(wrongType.Count == 0, $"docs/metrics.md has the wrong type: {string.Join("; ", wrongType)}");

        var gone = documented.Values.Where(d => !d.NeedsXdp && !exported.ContainsKey(d.Name)).Select(d => d.Name).Order().ToList();
        Assert.True(gone.Count == 0,
            $"docs/metrics.md names families /metrics does not export (remove them, or mark them 'yes' under Needs --ebpf-offloading if only XDP exports them): {string.Join(", ", gone)}");
    }

    [Fact]
    public async Task The_fast_paths_families_are_documented_and_marked_as_needing_ebpf_offloading()
    {
        Dictionary<string, string> plain, withFastPath;
        using (var relay = new RelayFactory())
        {
            plain = Families(await ScrapeAsync(relay));
        }

        var counters = new FastPathCounters([new("no_binding", 1)], [new("over_bandwidth", 1)]);
        counters.SetHairpin(IpFamily.V4, IpFamily.V4, new TrafficCount(1, 100));
        using (var relay = new RelayFactory { FastPath = new FakeFastPath { Counters = counters } })
        {
            withFastPath = Families(await ScrapeAsync(relay));
        }

        Dictionary<string, DocumentedFamily> documented = ReadDoc();
        var onlyWithFastPath = withFastPath.Keys.Except(plain.Keys).Order().ToList();
        Assert.NotEmpty(onlyWithFastPath);
        Assert.All(onlyWithFastPath, name =>
        {
            Assert.True(documented.TryGetValue(name, out DocumentedFamily? family), $"docs/metrics.md lacks {name}, which the XDP fast path exports");
            Assert.True(family!.NeedsXdp, $"docs/metrics.md must mark {name} 'yes' under Needs --ebpf-offloading");
            Assert.Equal(withFastPath[name], family.Type);
        });
    }

    /// <summary>Traffic that makes every on-demand family appear: responses, an auth failure, relayed packets both ways.</summary>
    private static async Task CauseTrafficAsync(RelayFactory relay)
    {
        using var client = new UdpTurnClient(relay.ListenV4, "metrics-reference");
        using var peer = new UdpPeer(AddressFamily.InterNetwork);
        TransportAddress relayed = await client.AllocateAsync();
        await client.ChannelBindAsync(0x4000, peer.EndPoint);
        await client.SendChannelDataAsync(0x4000, new byte[100]);
        await peer.ReceiveAsync();
        await peer.SendAsync(new byte[100], relayed);
        await client.ReceiveAsync();

        using var intruder = new UdpTurnClient(relay.ListenV4, "metrics-reference-bad");
        intruder.Signer.Password = "wrong";
        var refused = await intruder.RequestAsync(() => new MessageSpec(StunMethod.Allocate).RequestedTransport());
        Assert.Equal(401, refused.ErrorCode);
    }

    private static async Task<string> ScrapeAsync(RelayFactory relay)
    {
        using var http = relay.CreateClient();
        var response = await http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The relay_ families of a scrape and their declared types, from the "# TYPE" lines.</summary>
    private static Dictionary<string, string> Families(string scrape) =>
        TypeLine().Matches(scrape).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value);

    /// <summary>Rows of docs/metrics.md's tables: | `relay_name` | type | labels | needs XDP | meaning |.</summary>
    private static Dictionary<string, DocumentedFamily> ReadDoc()
    {
        Assert.True(File.Exists(DocPath), "docs/metrics.md is missing");
        var families = new Dictionary<string, DocumentedFamily>();
        foreach (string line in File.ReadLines(DocPath))
        {
            if (DocRow().Match(line) is not { Success: true } row)
            {
                continue;
            }

            string[] cells = line.Split('|');
            Assert.True(cells.Length >= 7, $"docs/metrics.md: a metric row needs the columns Metric, Type, Labels, Needs --ebpf-offloading, Meaning: {line}");
            string name = row.Groups["name"].Value;
            Assert.False(families.ContainsKey(name), $"docs/metrics.md lists {name} twice");
            families[name] = new DocumentedFamily(name, cells[2].Trim(), cells[4].Trim() == "yes");
        }

        Assert.NotEmpty(families);
        return families;
    }

    private sealed record DocumentedFamily(string Name, string Type, bool NeedsXdp);

    [GeneratedRegex(@"^# TYPE (?<name>relay_[a-z0-9_]+) (?<type>\w+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^\| `(?<name>relay_[a-z0-9_]+)` \|")]
    private static partial Regex DocRow();
}
