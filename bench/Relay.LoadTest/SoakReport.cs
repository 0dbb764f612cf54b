using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Relay.LoadTest;

/// <summary>One soak round: allocate all, relay, release all.</summary>
internal sealed class SoakRound
{
    public int Number { get; init; }

    public double SetupSeconds { get; set; }

    /// <summary>The server with every allocation of the round up, before any traffic.</summary>
    public ServerSample Up { get; set; }

    public LoadReport? Traffic { get; set; }

    public ServerSample AfterTraffic { get; set; }

    /// <summary>Allocations the server confirmed freeing (Refresh LIFETIME 0 answered with success).</summary>
    public int Released { get; set; }

    public double ReleaseSeconds { get; set; }

    /// <summary>The server after every allocation was released and its tables reached 0 (or the wait ran out).</summary>
    public ServerSample Empty { get; set; }
}

/// <summary>The soak's figures and verdict, as text or one JSON object.</summary>
internal sealed class SoakReport
{
    public required LoadOptions Options { get; init; }

    public IPEndPoint? Peer { get; set; }

    public ServerSample Baseline { get; set; }

    /// <summary>Whether every RSS sample followed a full GC induced in the server (--induce-gc).</summary>
    public bool InducedGc { get; set; }

    public List<SoakRound> Rounds { get; } = new();

    public List<string> Failures { get; } = new();

    /// <summary>(RSS with round 1's allocations up - baseline RSS) / allocations.</summary>
    public double? RssPerAllocationBytes => Rounds.Count == 0 ? null : (Rounds[0].Up.RssKiB - Baseline.RssKiB) * 1024.0 / Options.Allocations;

    /// <summary>The anonymous part of <see cref="RssPerAllocationBytes"/>: heap, without code and mapped files.</summary>
    public double? AnonPerAllocationBytes => Rounds.Count == 0 ? null : (Rounds[0].Up.Memory.AnonKiB - Baseline.Memory.AnonKiB) * 1024.0 / Options.Allocations;

    /// <summary>RSS after the last round's release minus RSS after round 1's release.</summary>
    public long? RssGrowthKiB => Rounds.Count < 2 ? null : Rounds[^1].Empty.RssKiB - Rounds[0].Empty.RssKiB;

    /// <summary>The same for RssAnon, where anything kept per allocation would show.</summary>
    public long? AnonGrowthKiB => Rounds.Count < 2 ? null : Rounds[^1].Empty.Memory.AnonKiB - Rounds[0].Empty.Memory.AnonKiB;

    /// <summary>
    /// Round 1 fills the heap to its working size (the GC keeps freed segments for reuse), so later rounds must fit
    /// in it: growth beyond the tolerance from the end of round 1 to the end of the last round is a leak.
    /// </summary>
    public void CheckGrowth()
    {
        if (Failures.Count == 0 && Rounds.Count < Options.Rounds)
        {
            Failures.Add($"only {Rounds.Count} of {Options.Rounds} rounds ran");
        }

        if (RssGrowthKiB is { } growth && growth > Options.RssToleranceMiB * 1024)
        {
            Failures.Add($"server RSS grew by {growth / 1024.0:F1} MiB from the end of round 1 to the end of round {Rounds.Count} (tolerance {Options.RssToleranceMiB} MiB)");
        }
    }

    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(c, $"soak              {Options.Server} ({Options.Scheme}), {Options.Rounds} rounds x {Options.Allocations} allocations, one channel each -> peer {Peer}; {(Options.Rate > 0 ? $"paced at {Options.Rate} packets/s" : "unpaced")}, {Options.Size}-byte payloads, {Options.Warmup + Options.Duration} s of traffic per round{(Options.SourceAddresses > 0 ? $", clients on 127.0.0.1-{Options.SourceAddresses}" : string.Empty)}");
        s.AppendLine(c, $"rss samples       {(InducedGc ? "each after a full GC induced in the server (--induce-gc)" : "as found (uncollected garbage included)")}");
        s.AppendLine(c, $"baseline          RSS {Soak.Rss(Baseline.Memory)}; {Baseline.Tables}");
        foreach (SoakRound r in Rounds)
        {
            LoadReport? t = r.Traffic;
            s.AppendLine(c, $"round {r.Number}           set-up {r.SetupSeconds:F1} s; up: RSS {Soak.Rss(r.Up.Memory)}, {r.Up.Tables}");
            if (t is not null)
            {
                s.AppendLine(c, $"                  traffic: sent {t.EchoesSent}, received {t.EchoesMeasured}, lost {t.Lost} ({t.LossPercent:F3} %), {t.EchoRate:F0} echoes/s = {2 * t.EchoRate:F0} relayed datagrams/s, rtt p50 {t.Latency.Quantile(0.5) / 1000.0:F0} us p99 {t.Latency.Quantile(0.99) / 1000.0:F0} us max {t.Latency.Max / 1000.0:F0} us, server cpu {t.ServerCpuPercent:F0} %, tool cpu {t.ToolCpuPercent:F0} %{(t.TokensDropped > 0 ? $", pacer behind by {t.TokensDropped}" : string.Empty)}");
            }

            s.AppendLine(c, $"                  after traffic: RSS {Soak.Rss(r.AfterTraffic.Memory)}; released {r.Released} in {r.ReleaseSeconds:F1} s: RSS {Soak.Rss(r.Empty.Memory)}, {r.Empty.Tables}");
        }

        if (RssPerAllocationBytes is { } perAllocation)
        {
            s.AppendLine(c, $"rss/allocation    {perAllocation:F0} bytes (round 1 up - baseline) / {Options.Allocations}; of which anon {AnonPerAllocationBytes:F0} bytes");
        }

        if (RssGrowthKiB is { } growth)
        {
            s.AppendLine(c, $"rss growth        {growth / 1024.0:F1} MiB (anon {AnonGrowthKiB / 1024.0:F1} MiB) from the end of round 1 to the end of round {Rounds.Count} (tolerance {Options.RssToleranceMiB} MiB)");
        }

        s.Append(Failures.Count == 0 ? "verdict           PASS" : $"verdict           FAIL: {string.Join("; ", Failures)}");
        return s.ToString();
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            LoadReport.WriteRun(w, Options);
            w.WriteNumber("server_pid", Options.ServerPid ?? 0);
            w.WriteNumber("allocations", Options.Allocations);
            w.WriteNumber("rounds", Options.Rounds);
            w.WriteNumber("rate_target", Options.Rate);
            w.WriteNumber("size", Options.Size);
            w.WriteNumber("traffic_s_per_round", Options.Warmup + Options.Duration);
            w.WriteNumber("source_addresses", Options.SourceAddresses);
            w.WriteBoolean("rss_after_induced_gc", InducedGc);
            WriteSample(w, "baseline", Baseline);
            w.WriteStartArray("round_reports");
            foreach (SoakRound r in Rounds)
            {
                w.WriteStartObject();
                w.WriteNumber("round", r.Number);
                w.WriteNumber("setup_s", Math.Round(r.SetupSeconds, 2));
                WriteSample(w, "up", r.Up);
                if (r.Traffic is { } t)
                {
                    w.WritePropertyName("traffic");
                    using var traffic = JsonDocument.Parse(t.ToJson());
                    traffic.RootElement.WriteTo(w);
                }

                WriteSample(w, "after_traffic", r.AfterTraffic);
                w.WriteNumber("released", r.Released);
                w.WriteNumber("release_s", Math.Round(r.ReleaseSeconds, 2));
                WriteSample(w, "empty", r.Empty);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (RssPerAllocationBytes is { } perAllocation)
            {
                w.WriteNumber("rss_per_allocation_bytes", Math.Round(perAllocation));
            }

            if (AnonPerAllocationBytes is { } anonPerAllocation)
            {
                w.WriteNumber("rss_anon_per_allocation_bytes", Math.Round(anonPerAllocation));
            }

            if (RssGrowthKiB is { } growth)
            {
                w.WriteNumber("rss_growth_kib", growth);
                w.WriteNumber("rss_anon_growth_kib", AnonGrowthKiB!.Value);
            }

            w.WriteNumber("rss_tolerance_mib", Options.RssToleranceMiB);
            w.WriteBoolean("pass", Failures.Count == 0);
            w.WriteStartArray("failures");
            foreach (string failure in Failures)
            {
                w.WriteStringValue(failure);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteSample(Utf8JsonWriter w, string name, ServerSample sample)
    {
        w.WriteStartObject(name);
        w.WriteNumber("rss_kib", sample.RssKiB);
        w.WriteNumber("rss_anon_kib", sample.Memory.AnonKiB);
        w.WriteNumber("rss_file_kib", sample.Memory.FileKiB);
        w.WriteNumber("rss_shmem_kib", sample.Memory.ShmemKiB);
        w.WriteNumber("allocations", sample.Tables.Allocations);
        w.WriteNumber("channels", sample.Tables.Channels);
        w.WriteNumber("permissions", sample.Tables.Permissions);
        w.WriteEndObject();
    }
}
