using System.Diagnostics;
using System.Text;

namespace Relay.Interop.Tests.Support;

/// <summary>What a finished process wrote: each stream, and both in the order the lines arrived.</summary>
public sealed record ProcessResult(int Code, string Stdout, string Stderr, string Output);

/// <summary>Runs a process to its end within a time limit; past it, kills the whole tree and throws with its output.</summary>
public static class BoundedProcess
{
    public static async Task<ProcessResult> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var output = new StringBuilder();
        void Collect(StringBuilder stream, string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    stream.AppendLine(line);
                    output.AppendLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Collect(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Collect(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
            {
                throw new TimeoutException($"{info.FileName} {string.Join(' ', info.ArgumentList)} ran longer than {timeout}:\n{output}");
            }
        }

        process.WaitForExit(); // flush the output readers
        lock (output)
        {
            return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString(), output.ToString());
        }
    }
}
