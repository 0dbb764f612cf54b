using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using Perfolizer.Horology;

namespace Relay.Benchmarks;

/// <summary>
/// The configuration the README's numbers come from: one short job (1 launch, 3 warmup and 10 measured iterations of
/// about 250 ms each; the Allocate benchmarks override this) so the whole suite runs in about a minute and a half on a 2-core machine, memory diagnoser on,
/// all classes joined into one summary table, artifacts under bench/Relay.Benchmarks/BenchmarkDotNet.Artifacts.
/// Command-line options (--job, --iterationCount, ...) still apply on top.
/// </summary>
internal static class BenchConfig
{
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddJob(Job.Default
                .WithLaunchCount(1)
                .WithWarmupCount(3)
                .WithIterationCount(10)
                .WithIterationTime(TimeInterval.FromMilliseconds(250))
                .WithId("Short"))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(StatisticColumn.Median, StatisticColumn.OperationsPerSecond)
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40))
            .WithOptions(ConfigOptions.JoinSummary)
            .WithArtifactsPath(ArtifactsPath());

    /// <summary>bench/Relay.Benchmarks/BenchmarkDotNet.Artifacts, found from the build output; else the working directory.</summary>
    private static string ArtifactsPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Relay.Benchmarks.csproj")))
            {
                return Path.Combine(dir.FullName, "BenchmarkDotNet.Artifacts");
            }
        }

        return Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
    }
}
