using System.Globalization;
using Relay.Web.Udp;

namespace Relay.Web.Stats;

/// <summary>
/// Every 10 s, the reference's stats line: allocations, bound channels and relayed throughput. The throughput counts
/// every data path; with XDP on, the line ends with the part XDP carried in the kernel.
/// </summary>
internal sealed partial class StatsReporter : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly RelayRuntime _runtime;
    private readonly TimeProvider _time;
    private readonly ILogger<StatsReporter> _logger;

    public StatsReporter(RelayRuntime runtime, TimeProvider time, ILogger<StatsReporter> logger)
    {
        _runtime = runtime;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long lastBytes = 0, lastOffloaded = 0;
        long lastTimestamp = _time.GetTimestamp();
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (_runtime.Engine is not { } engine)
                {
                    continue;
                }

                long offloaded = _runtime.FastPath.Enabled ? _runtime.FastPath.ReadCounters().Total().Bytes : 0;
                long bytes = engine.Counters.TotalBytes() + offloaded;
                double seconds = Math.Max(_time.GetElapsedTime(lastTimestamp).TotalSeconds, 0.001);
                lastTimestamp = _time.GetTimestamp();
                string throughput = FormatThroughput((bytes - lastBytes) / seconds);
                if (_runtime.FastPath.Enabled)
                {
                    LogStatsWithFastPath(_logger, engine.AllocationCount, engine.BoundChannelCount, throughput, _runtime.FastPath.Name, FormatThroughput((offloaded - lastOffloaded) / seconds));
                }
                else
                {
                    LogStats(_logger, engine.AllocationCount, engine.BoundChannelCount, throughput);
                }

                lastBytes = bytes;
                lastOffloaded = offloaded;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Bytes per second as the reference prints it: "12.34 kB/s", "1.50 MB/s".</summary>
    public static string FormatThroughput(double bytesPerSecond)
    {
        string[] units = ["B/s", "kB/s", "MB/s", "GB/s"];
        int unit = 0;
        while (bytesPerSecond >= 1000 && unit < units.Length - 1)
        {
            bytesPerSecond /= 1000;
            unit++;
        }

        return bytesPerSecond.ToString("0.00", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Allocations = {Allocations} Channels = {Channels} Throughput = {Throughput}")]
    private static partial void LogStats(ILogger logger, int allocations, int channels, string throughput);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Allocations = {Allocations} Channels = {Channels} Throughput = {Throughput} ({DataPath} {Offloaded})")]
    private static partial void LogStatsWithFastPath(ILogger logger, int allocations, int channels, string throughput, string dataPath, string offloaded);
}
