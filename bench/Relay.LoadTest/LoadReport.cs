using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Relay.LoadTest;

/// <summary>The figures of one run, as text or one JSON object.</summary>
internal sealed class LoadReport
{
    public required LoadOptions Options { get; init; }

    public required IPEndPoint Peer { get; init; }

    public bool OwnPeer { get; init; }

    public double SetupSeconds { get; init; }

    public double WindowSeconds { get; init; }

    /// <summary>Packets sent during the measured window (each should come back as one echo).</summary>
    public long EchoesSent { get; init; }

    /// <summary>Echoes of those packets that came back (before the drain timeout).</summary>
    public long EchoesMeasured { get; init; }

    public long TotalSent { get; init; }

    public long TotalReceived { get; init; }

    public long OutOfOrder { get; init; }

    public long Foreign { get; init; }

    public long TokensDropped { get; init; }

    public long SendErrors { get; init; }

    public long ReceiveErrors { get; init; }

    public long Refills { get; init; }

    public required LatencyHistogram Latency { get; init; }

    public UdpDrops? Drops { get; init; }

    public long? EchoPeerPackets { get; init; }

    public long? EchoPeerErrors { get; init; }

    public int Deallocated { get; set; }

    public double? ServerCpuPercent { get; set; }

    public double? ServerSystemCpuPercent { get; set; }

    public string? ServerBusiestThread { get; set; }

    public double? ServerBusiestThreadPercent { get; set; }

    /// <summary>Share of the window the busiest server thread was runnable but not running (CPU contention).</summary>
    public double? ServerBusiestThreadWaitPercent { get; set; }

    public List<(string Name, double Percent)>? ServerThreads { get; set; }

    public string? ServerCpuNote { get; set; }

    public double? ToolCpuPercent { get; set; }

    public double? ToolSenderCpuPercent { get; set; }

    public double? ToolReceiversCpuPercent { get; set; }

    public double? ToolEchoCpuPercent { get; set; }

    public double? HostBusyPercent { get; set; }

    public double? PeerCpuPercent { get; set; }

    public double? OtherProcessesCpuPercent { get; set; }

    public double? UnattributedCpuPercent { get; set; }

    public long Lost => Math.Max(0, EchoesSent - EchoesMeasured);

    public double LossPercent => EchoesSent == 0 ? 0 : 100.0 * Lost / EchoesSent;

    public double SendRate => EchoesSent / WindowSeconds;

    /// <summary>Round trips per second: each is two relayed datagrams.</summary>
    public double EchoRate => EchoesMeasured / WindowSeconds;

    private static double Us(long nanoseconds) => nanoseconds / 1000.0;

    public string ToText()
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        string mode = Options.Rate > 0 ? $"paced, target {Options.Rate} packets/s" : $"unpaced, window {Options.Window}/allocation";
        s.AppendLine(c, $"server            {Options.Server} ({Options.Scheme}), {Options.Allocations} allocations, channel 0x4000 -> peer {Peer}{(OwnPeer ? " (own echo thread)" : string.Empty)}");
        s.AppendLine(c, $"load              {mode}, {Options.Size}-byte payloads, {WindowSeconds:F2} s measured after {Options.Warmup} s warm-up; set-up {SetupSeconds:F2} s");
        s.AppendLine(c, $"sent              {EchoesSent} ({SendRate:F0}/s){(TokensDropped > 0 ? $", pacer fell behind by {TokensDropped} packets" : string.Empty)}{(SendErrors > 0 ? $", {SendErrors} send errors" : string.Empty)}");
        s.AppendLine(c, $"received          {EchoesMeasured}   lost {Lost} ({LossPercent:F3} %)   out of order {OutOfOrder}{(Foreign > 0 ? $"   foreign {Foreign}" : string.Empty)}{(Refills > 0 ? $"   window refills {Refills}" : string.Empty)}");
        string rate = Options.OneWay
            ? string.Create(c, $"delivered/s       {EchoRate:F0} packets/s client to peer ({EchoRate * Options.Size * 8 / 1e6:F1} Mbit/s payload)")
            : string.Create(c, $"echoes/s          {EchoRate:F0} round trips/s = {2 * EchoRate:F0} relayed datagrams/s ({EchoRate * Options.Size * 8 / 1e6:F1} Mbit/s payload each way)");
        s.AppendLine(rate);
        s.AppendLine(c, $"{(Options.OneWay ? "one way" : "rtt"),-7} (us)    p50 {Us(Latency.Quantile(0.50)):F1}  p90 {Us(Latency.Quantile(0.90)):F1}  p99 {Us(Latency.Quantile(0.99)):F1}  p99.9 {Us(Latency.Quantile(0.999)):F1}  max {Us(Latency.Max):F1}  mean {Latency.Mean / 1000:F1}");
        if (ServerCpuPercent is { } server)
        {
            s.AppendLine(c, $"server cpu        {server:F0} % of one core ({ServerSystemCpuPercent:F0} % in the kernel); busiest thread '{ServerBusiestThread}' {ServerBusiestThreadPercent:F0} % (waited for a CPU {ServerBusiestThreadWaitPercent:F0} % of the time)  [{string.Join(", ", ServerThreads!.Select(t => $"{t.Name} {t.Percent:F0}%"))}]");
        }
        else if (ServerCpuNote is not null)
        {
            s.AppendLine(c, $"server cpu        {ServerCpuNote}");
        }

        if (ToolCpuPercent is { } tool)
        {
            s.AppendLine(c, $"tool cpu          {tool:F0} % (sender {ToolSenderCpuPercent:F0} %, receivers {ToolReceiversCpuPercent:F0} %{(ToolEchoCpuPercent is { } e ? $", echo peer {e:F0} %" : string.Empty)}){(PeerCpuPercent is { } pc ? $"; peer process {pc:F0} %" : string.Empty)}");
            s.AppendLine(c, $"host cpu          busy {HostBusyPercent:F0} % of {Environment.ProcessorCount * 100} %; other processes {OtherProcessesCpuPercent:F0} %, unattributed {UnattributedCpuPercent:F0} % (foreign load: figures with either well above ~5-10 % are suspect)");
        }

        if (Drops is { } d)
        {
            s.AppendLine(c, $"udp drops         server port {d.ServerListen}, relay ports {d.ServerRelay}, peer {d.Peer}, client {d.Client}; netns RcvbufErrors {d.RcvbufErrors}, SndbufErrors {d.SndbufErrors}");
        }

        s.Append(c, $"deallocated       {Deallocated}/{Options.Allocations}");
        return s.ToString();
    }

    /// <summary>What every JSON report starts with: the label, the server and the auth scheme.</summary>
    internal static void WriteRun(Utf8JsonWriter w, LoadOptions options)
    {
        if (options.Label is not null)
        {
            w.WriteString("label", options.Label);
        }

        w.WriteString("server", options.Server.ToString());
        w.WriteString("auth_scheme", options.Scheme.ToString());
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            WriteRun(w, Options);
            w.WriteString("peer", Peer.ToString());
            w.WriteBoolean("own_echo_peer", OwnPeer);
            w.WriteNumber("allocations", Options.Allocations);
            w.WriteString("mode", Options.Rate > 0 ? "paced" : "unpaced");
            w.WriteBoolean("one_way", Options.OneWay);
            w.WriteNumber("rate_target", Options.Rate);
            w.WriteNumber("window", Options.Window);
            w.WriteNumber("size", Options.Size);
            w.WriteNumber("warmup_s", Options.Warmup);
            w.WriteNumber("measured_s", Math.Round(WindowSeconds, 3));
            w.WriteNumber("setup_s", Math.Round(SetupSeconds, 3));
            w.WriteNumber("sent", EchoesSent);
            w.WriteNumber("received", EchoesMeasured);
            w.WriteNumber("lost", Lost);
            w.WriteNumber("loss_pct", Math.Round(LossPercent, 4));
            w.WriteNumber("send_pps", Math.Round(SendRate));
            w.WriteNumber("echo_pps", Math.Round(EchoRate));
            w.WriteNumber("relayed_datagrams_per_s", Math.Round((Options.OneWay ? 1 : 2) * EchoRate));
            w.WriteNumber("out_of_order", OutOfOrder);
            w.WriteNumber("foreign", Foreign);
            w.WriteNumber("pacer_tokens_dropped", TokensDropped);
            w.WriteNumber("send_errors", SendErrors);
            w.WriteNumber("receive_errors", ReceiveErrors);
            w.WriteNumber("window_refills", Refills);
            w.WriteStartObject("rtt_us");
            w.WriteNumber("p50", Math.Round(Us(Latency.Quantile(0.50)), 1));
            w.WriteNumber("p90", Math.Round(Us(Latency.Quantile(0.90)), 1));
            w.WriteNumber("p99", Math.Round(Us(Latency.Quantile(0.99)), 1));
            w.WriteNumber("p999", Math.Round(Us(Latency.Quantile(0.999)), 1));
            w.WriteNumber("max", Math.Round(Us(Latency.Max), 1));
            w.WriteNumber("mean", Math.Round(Latency.Mean / 1000, 1));
            w.WriteEndObject();
            w.WriteStartObject("cpu_pct");
            WriteOptional(w, "server", ServerCpuPercent);
            WriteOptional(w, "server_kernel", ServerSystemCpuPercent);
            if (ServerBusiestThread is not null)
            {
                w.WriteString("server_busiest_thread", ServerBusiestThread);
            }

            WriteOptional(w, "server_busiest_thread_pct", ServerBusiestThreadPercent);
            WriteOptional(w, "server_busiest_thread_runqueue_wait_pct", ServerBusiestThreadWaitPercent);
            WriteOptional(w, "tool", ToolCpuPercent);
            WriteOptional(w, "tool_sender", ToolSenderCpuPercent);
            WriteOptional(w, "tool_receivers", ToolReceiversCpuPercent);
            WriteOptional(w, "tool_echo_peer", ToolEchoCpuPercent);
            WriteOptional(w, "peer_process", PeerCpuPercent);
            WriteOptional(w, "other_processes", OtherProcessesCpuPercent);
            WriteOptional(w, "unattributed", UnattributedCpuPercent);
            WriteOptional(w, "host_busy", HostBusyPercent);
            w.WriteNumber("host_capacity", Environment.ProcessorCount * 100);
            w.WriteEndObject();
            if (Drops is { } d)
            {
                w.WriteStartObject("udp_drops");
                w.WriteNumber("server_port", d.ServerListen);
                w.WriteNumber("relay_ports", d.ServerRelay);
                w.WriteNumber("peer", d.Peer);
                w.WriteNumber("client", d.Client);
                w.WriteNumber("netns_rcvbuf_errors", d.RcvbufErrors);
                w.WriteNumber("netns_sndbuf_errors", d.SndbufErrors);
                w.WriteEndObject();
            }

            if (EchoPeerPackets is { } echoed)
            {
                w.WriteNumber("echo_peer_packets", echoed);
            }

            w.WriteNumber("deallocated", Deallocated);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Math.Round(v, 1));
        }
    }
}
