using System.Globalization;

namespace Relay.Web.Configuration;

/// <summary>
/// Where setting values come from, lowest precedence first: a configuration file (<c>--config FILE</c> or
/// RELAY_CONFIG), then environment variables, then the command line.
/// </summary>
public static class SettingSources
{
    public const string ConfigFlag = "--config";
    public const string ConfigEnvironment = "RELAY_CONFIG";

    /// <summary>Merges the three sources; problems with the file (unreadable, a line that is not a setting) go to <paramref name="errors"/>.</summary>
    public static Dictionary<string, SettingValue> Merge(
        IReadOnlyDictionary<string, string> commandLine, string? configFile, Func<string, string?> environment, List<string> errors)
    {
        var values = new Dictionary<string, SettingValue>(StringComparer.OrdinalIgnoreCase);
        if (configFile is not null)
        {
            foreach (var (key, value) in ReadFile(configFile, errors))
            {
                values[key] = value;
            }
        }

        foreach (Setting setting in Setting.All)
        {
            if (setting.Environment.Select(environment).FirstOrDefault(v => !string.IsNullOrEmpty(v)) is { } fromEnvironment)
            {
                values[setting.Key] = new SettingValue(fromEnvironment, null);
            }

            if (commandLine.TryGetValue(setting.Key, out string? fromFlag))
            {
                values[setting.Key] = new SettingValue(fromFlag, null);
            }
        }

        return values;
    }

    /// <summary>
    /// A coturn-style file: one <c>key=value</c> per line with the flags' names as keys (<c>listen-port=3478</c>), a
    /// bare key for a switch that is on, <c>#</c> comments, surrounding quotes optional. A list setting's key may repeat.
    /// </summary>
    public static Dictionary<string, SettingValue> ReadFile(string path, List<string> errors)
    {
        var values = new Dictionary<string, SettingValue>(StringComparer.OrdinalIgnoreCase);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{ConfigFlag} ({ConfigEnvironment}): cannot read '{path}': {exception.Message}");
            return values;
        }

        string name = Path.GetFileName(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string origin = string.Create(CultureInfo.InvariantCulture, $"{name} line {i + 1}");
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            string key = (equals < 0 ? line : line[..equals]).Trim().TrimStart('-');
            string text = equals < 0 ? "true" : Unquote(line[(equals + 1)..].Trim());
            Setting? setting = Setting.ByKey(key);
            if (setting is null)
            {
                errors.Add($"{origin}: '{key}' is not a setting (keys are the flags' names without '--', e.g. listen-port=3478)");
            }
            else if (equals < 0 && !setting.IsSwitch)
            {
                errors.Add($"{origin}: {key} needs a value ({key}=...)");
            }
            else if (setting.IsRepeatable && values.TryGetValue(setting.Key, out SettingValue earlier))
            {
                values[setting.Key] = new SettingValue(earlier.Text + "," + text, $"{earlier.Origin} and line {i + 1}");
            }
            else
            {
                values[setting.Key] = new SettingValue(text, origin);
            }
        }

        return values;
    }

    private static string Unquote(string text) =>
        text.Length >= 2 && ((text[0] == '"' && text[^1] == '"') || (text[0] == '\'' && text[^1] == '\'')) ? text[1..^1] : text;
}
