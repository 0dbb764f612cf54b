using System.Reflection;

namespace Relay.Web.Configuration;

/// <summary>Where a setting is described in the configuration reference and validated together.</summary>
public enum SettingConcern
{
    Network,
    PeerPolicy,
    Authentication,
    Portal,
    Management,
    Telemetry,
    Xdp,
    Compatibility,
}

/// <summary>
/// The one definition of a setting, on its <see cref="RelaySettings"/> property: the flag, its environment
/// variables, the default (as text, parsed like any value), the help text and the parser. <c>--help</c>, the
/// configuration file's keys, validation and docs/configuration.md all come from it.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SettingAttribute(string flag, params string[] environment) : Attribute
{
    public string Flag { get; } = flag;

    public string[] Environment { get; } = environment;

    public string? Default { get; init; }

    public string Help { get; init; } = string.Empty;

    public Type Parser { get; init; } = typeof(TextParser);

    public SettingConcern Concern { get; init; }

    /// <summary>Accepted for compatibility and ignored, with this reason logged as a warning.</summary>
    public string? Ignored { get; init; }
}

/// <summary>A setting as the program uses it: its definition bound to its property.</summary>
public sealed class Setting
{
    private Setting(PropertyInfo property, SettingAttribute definition)
    {
        Property = property;
        Flag = definition.Flag;
        Environment = definition.Environment;
        Default = definition.Default;
        Help = definition.Help;
        Concern = definition.Concern;
        Ignored = definition.Ignored;
        Parser = (ISettingParser)Activator.CreateInstance(definition.Parser)!;
    }

    /// <summary>Every setting, in the order of <see cref="RelaySettings"/>' properties.</summary>
    public static IReadOnlyList<Setting> All { get; } = typeof(RelaySettings).GetProperties()
        .Select(p => (Property: p, Definition: p.GetCustomAttribute<SettingAttribute>()))
        .Where(p => p.Definition is not null)
        .Select(p => new Setting(p.Property, p.Definition!))
        .ToList();

    public PropertyInfo Property { get; }

    /// <summary>"--listen-port".</summary>
    public string Flag { get; }

    /// <summary>"listen-port": the key in a configuration file and in the host's <c>Relay</c> section.</summary>
    public string Key => Flag[2..];

    public string[] Environment { get; }

    public string? Default { get; }

    public string Help { get; }

    public SettingConcern Concern { get; }

    public string? Ignored { get; }

    public ISettingParser Parser { get; }

    public bool IsSwitch => Parser.IsSwitch;

    public bool IsRepeatable => Parser.IsRepeatable;

    /// <summary>"--listen-port (LISTEN_PORT)": how messages name the setting, so the operator finds it either way.</summary>
    public string Display => Environment.Length == 0 ? Flag : $"{Flag} ({string.Join(", ", Environment)})";

    public static Setting Of(string propertyName) => All.First(s => s.Property.Name == propertyName);

    public static Setting? ByKey(string key) => All.FirstOrDefault(s => string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase));
}

/// <summary>A setting's text and, when a configuration file gave it, where ("relay.conf line 3").</summary>
public readonly record struct SettingValue(string Text, string? Origin);
