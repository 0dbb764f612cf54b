using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;

namespace Relay.LoadTest;

/// <summary>
/// Induces a full, blocking GC in a .NET server (--induce-gc): enabling the runtime provider with the GCHeapCollect
/// keyword over the diagnostics IPC makes the runtime collect, as dotnet-gcdump does. Completion is observed on the
/// server's own /metrics (dotnet_gc_collections_total, gen2), so no trace needs parsing. RSS read afterwards is
/// what the server keeps alive plus what its GC retains, not garbage that simply has not been collected yet.
/// </summary>
internal sealed class ServerGc(int pid, Uri metrics) : IDisposable
{
    private const long GCHeapCollectKeyword = 0x800000;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public int Induced { get; private set; }

    public void Collect(TimeSpan within)
    {
        long before = Gen2Collections();
        var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GCHeapCollectKeyword) };
        EventPipeSession session;
        try
        {
            session = new DiagnosticsClient(pid).StartEventPipeSession(providers, requestRundown: false, circularBufferMB: 16);
        }
        catch (Exception exception) when (exception is ServerNotAvailableException or UnsupportedCommandException or TimeoutException or IOException)
        {
            throw new SetupException($"--induce-gc: cannot reach the .NET diagnostics IPC of pid {pid} (a .NET server run by this user, DOTNET_EnableDiagnostics not 0?): {exception.Message}");
        }

        using (session)
        {
            // The runtime writes the session's events to this stream; reading it keeps the runtime from blocking.
            Task drain = Task.Run(() => session.EventStream.CopyTo(Stream.Null));
            DateTime deadline = DateTime.UtcNow + within;
            while (Gen2Collections() <= before)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new SetupException($"--induce-gc: no gen2 collection showed on {metrics} within {within.TotalSeconds} s");
                }

                Thread.Sleep(50);
            }

            session.Stop();
            drain.Wait(TimeSpan.FromSeconds(5));
        }

        Induced++;
    }

    private long Gen2Collections()
    {
        string text;
        try
        {
            text = _http.GetStringAsync(metrics).GetAwaiter().GetResult();
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            throw new SetupException($"--induce-gc: GET {metrics} failed (is --metrics the relay's /metrics?): {exception.Message}");
        }

        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_collections_total{", StringComparison.Ordinal) && line.Contains("gc_heap_generation=\"gen2\"", StringComparison.Ordinal))
            {
                return long.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture);
            }
        }

        throw new SetupException($"--induce-gc: {metrics} has no dotnet_gc_collections_total{{gc_heap_generation=\"gen2\"}}");
    }

    public void Dispose() => _http.Dispose();
}
