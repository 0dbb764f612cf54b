using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Xdp.Native;

/// <summary>
/// Captures what libbpf prints (its default is stderr) so a failed load can report the verifier's log in the
/// relay's own error message. libbpf's print hook is process-wide; captures are serialised by a lock.
/// </summary>
internal static unsafe class LibBpfLog
{
    private const int MaxLines = 4000;
    private static readonly object Gate = new();
    private static readonly List<string> Lines = new();
    private static bool _installed;

    /// <summary>Runs <paramref name="action"/> and returns it with everything libbpf printed meanwhile.</summary>
    public static (T Result, IReadOnlyList<string> Log) Capture<T>(Func<T> action)
    {
        lock (Gate)
        {
            if (!_installed)
            {
                LibBpf.libbpf_set_print(&Print);
                _installed = true;
            }

            Lines.Clear();
            T result = action();
            var log = Lines.ToList();
            Lines.Clear();
            return (result, log);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Print(int level, byte* format, nint arguments)
    {
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
            if (Lines.Count < MaxLines)
            {
                Lines.Add(line); // only called inside Capture, under its lock
            }
        }

        return length;
    }
}
