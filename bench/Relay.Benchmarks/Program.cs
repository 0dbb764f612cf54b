using BenchmarkDotNet.Running;

namespace Relay.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>dotnet run -c Release --project bench/Relay.Benchmarks -- --filter '*'</c> runs the suite;
    /// <c>-- --alloc-probe</c> instead counts allocated bytes per call with GC.GetAllocatedBytesForCurrentThread.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Contains("--alloc-probe"))
        {
            return AllocationProbe.Run();
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
        return 0;
    }
}
