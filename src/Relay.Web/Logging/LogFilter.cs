using Microsoft.Extensions.Logging;

namespace Relay.Web.Logging;

/// <summary>
/// A log filter in RUST_LOG syntax: comma-separated directives, each a level (<c>info</c>) or
/// <c>target=level</c>. Levels: trace, debug, info, warn, error, off. A target matches a logger category by prefix,
/// case-insensitively, with <c>::</c> read as <c>.</c>; the reference's targets are aliases for our categories
/// (<c>relay</c>, <c>wire</c> = the UDP data plane, <c>phoenix_channel</c> = the portal client, <c>ebpf</c>).
/// The longest matching target wins. Without a directive for them, ASP.NET Core's per-request logs stay at warn.
/// </summary>
public sealed class LogFilter
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["relay"] = "Relay",
        ["firezone_relay"] = "Relay",
        ["relay_proto"] = "Relay.Core",
        ["wire"] = "Relay.Web.Udp",
        ["phoenix_channel"] = "Relay.Web.Portal",
        ["ebpf"] = "Relay.Xdp",
    };

    private static readonly (string Prefix, LogLevel Level)[] Implicit =
    [
        ("Microsoft.AspNetCore", LogLevel.Warning),
        ("Microsoft.Hosting.Lifetime", LogLevel.Warning), // the relay says what listens where itself
    ];

    private readonly (string Prefix, LogLevel Level)[] _rules;

    private LogFilter(string text, LogLevel defaultLevel, (string Prefix, LogLevel Level)[] rules)
    {
        Text = text;
        DefaultLevel = defaultLevel;
        _rules = rules;
    }

    public string Text { get; }

    public LogLevel DefaultLevel { get; }

    public static LogFilter Default { get; } = Parse("info");

    public static LogFilter Parse(string text) =>
        TryParse(text, out var filter, out string? error) ? filter : throw new FormatException(error);

    public static bool TryParse(string? text, out LogFilter filter, out string? error)
    {
        filter = null!;
        error = null;
        var level = LogLevel.Information;
        var rules = new List<(string, LogLevel)>();
        foreach (string raw in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = raw.IndexOf('=');
            if (eq < 0)
            {
                if (TryLevel(raw, out LogLevel parsed))
                {
                    level = parsed;
                    continue;
                }

                // A bare target means "everything for it" in RUST_LOG.
                rules.Add((Category(raw), LogLevel.Trace));
                continue;
            }

            string target = raw[..eq].Trim();
            string levelText = raw[(eq + 1)..].Trim();
            if (target.Length == 0 || !TryLevel(levelText, out LogLevel targetLevel))
            {
                error = $"invalid log directive '{raw}': expected LEVEL or TARGET=LEVEL with LEVEL one of trace, debug, info, warn, error, off";
                return false;
            }

            rules.Add((Category(target), targetLevel));
        }

        foreach (var (prefix, implicitLevel) in Implicit)
        {
            if (!rules.Exists(r => prefix.StartsWith(r.Item1, StringComparison.OrdinalIgnoreCase)))
            {
                rules.Add((prefix, implicitLevel > level ? implicitLevel : level));
            }
        }

        filter = new LogFilter(text ?? "", level, rules.OrderByDescending(r => r.Item1.Length).ToArray());
        return true;
    }

    public bool IsEnabled(string? category, LogLevel level)
    {
        if (level == LogLevel.None)
        {
            return false;
        }

        category ??= "";
        foreach (var (prefix, min) in _rules)
        {
            if (category.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return min != LogLevel.None && level >= min;
            }
        }

        return DefaultLevel != LogLevel.None && level >= DefaultLevel;
    }

    private static string Category(string target)
    {
        string normalized = target.Replace("::", ".", StringComparison.Ordinal);
        return Aliases.TryGetValue(normalized, out string? category) ? category : normalized;
    }

    private static bool TryLevel(string text, out LogLevel level)
    {
        switch (text.ToLowerInvariant())
        {
            case "trace": level = LogLevel.Trace; return true;
            case "debug": level = LogLevel.Debug; return true;
            case "info": level = LogLevel.Information; return true;
            case "warn": level = LogLevel.Warning; return true;
            case "error": level = LogLevel.Error; return true;
            case "off": level = LogLevel.None; return true;
            default: level = LogLevel.None; return false;
        }
    }

    public override string ToString() => Text;
}

/// <summary>The current filter, swappable at runtime (<c>POST /log_filter</c>); read on every log call.</summary>
public sealed class DynamicLogFilter
{
    private volatile LogFilter _current;

    public DynamicLogFilter(LogFilter initial) => _current = initial;

    public LogFilter Current => _current;

    public void Update(LogFilter filter) => _current = filter;

    public bool IsEnabled(string? category, LogLevel level) => _current.IsEnabled(category, level);
}
