using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Xdp.Native;

/// <summary>
/// Captures what libbpf prints (its default is stderr) so a failed load can report the verifier's log in the
/// relay's own error message. libbpf prints on the thread that called it, so a capture collects what its own
/// thread's calls print; what libbpf prints at any other time is dropped.
/// </summary>
internal static unsafe class LibBpfLog
{
    private const int MaxLines = 4000;
    private static readonly object InstallGate = new();
    private static bool _installed;

    [ThreadStatic]
    private static List<string>? _capture;

    /// <summary>Runs <paramref name="action"/> and returns it with everything libbpf printed meanwhile.</summary>
    public static (T Result, IReadOnlyList<string> Log) Capture<T>(Func<T> action)
    {
        lock (InstallGate)
        {
            if (!_installed)
            {
                LibBpf.libbpf_set_print(&Print);
                _installed = true;
            }
        }

        var lines = new List<string>();
        _capture = lines;
        try
        {
            return (action(), lines);
        }
        finally
        {
            _capture = null;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Print(int level, byte* format, nint arguments)
    {
        if (_capture is not { } lines)
        {
            return 0;
        }

        const int size = 8192;
        byte* buffer = stackalloc byte[size];
        int length = LibBpf.vsnprintf(buffer, size, format, arguments);
        if (length <= 0)
        {
            return 0;
        }

        string text = Encoding.UTF8.GetString(buffer, Math.Min(length, size - 1));
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (lines.Count < MaxLines)
            {
                lines.Add(line);
            }
        }

        return length;
    }
}
