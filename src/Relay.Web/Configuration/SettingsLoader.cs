namespace Relay.Web.Configuration;

/// <summary>
/// Turns setting texts into <see cref="RelaySettings"/>: each given value or default is parsed by its setting's
/// parser, then <see cref="SettingRules"/> checks the settings against each other. A rule whose settings did not
/// parse is skipped, so every message is a root cause ("70000 is not a port number", not also "above the range").
/// </summary>
public static class SettingsLoader
{
    /// <summary>Returns the settings, or null with one message per problem; ignored settings that were given are warnings.</summary>
    public static RelaySettings? Load(IReadOnlyDictionary<string, SettingValue> values, out List<string> errors, out List<string> warnings)
    {
        errors = new List<string>();
        warnings = new List<string>();
        var settings = new RelaySettings();
        var invalid = new HashSet<string>(StringComparer.Ordinal);
        foreach (Setting setting in Setting.All)
        {
            bool given = values.TryGetValue(setting.Key, out SettingValue value);
            if (given && setting.Ignored is { } reason)
            {
                warnings.Add($"{setting.Display} is accepted for compatibility with the reference relay and ignored: {reason}");
                continue;
            }

            string? text = given ? value.Text : setting.Default;
            if (text is null)
            {
                continue;
            }

            if (!setting.Parser.TryParse(text, out object? parsed, out string? error))
            {
                errors.Add($"{Name(setting, given ? value.Origin : "its default")}: {error}");
                invalid.Add(setting.Property.Name);
                continue;
            }

            setting.Property.SetValue(settings, parsed);
        }

        foreach (string key in values.Keys)
        {
            if (Setting.ByKey(key) is null)
            {
                errors.Add($"{values[key].Origin ?? "configuration"}: '{key}' is not a setting (see firezone-relay --help)");
            }
        }

        foreach (var (property, message) in SettingRules.Check(settings, invalid))
        {
            Setting setting = Setting.Of(property);
            errors.Add($"{Name(setting, values.TryGetValue(setting.Key, out SettingValue v) ? v.Origin : null)}: {message}");
        }

        return errors.Count == 0 ? settings : null;
    }

    /// <summary>"--listen-port (LISTEN_PORT)", with " in relay.conf line 3" when a file gave the value.</summary>
    private static string Name(Setting setting, string? origin) => origin is null ? setting.Display : $"{setting.Display} in {origin}";
}
