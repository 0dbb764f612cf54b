using System.Globalization;
using System.Text.RegularExpressions;

namespace Relay.Web.Tests.Support;

/// <summary>Reads samples out of a Prometheus text scrape.</summary>
public static partial class Prometheus
{
    /// <summary>The value of the sample whose name is <paramref name="name"/> and whose labels contain all of <paramref name="parts"/>.</summary>
    public static double Sample(string scrape, string name, params string[] parts)
    {
        foreach (Match match in SampleLine().Matches(scrape))
        {
            if (match.Groups["name"].Value == name && parts.All(p => match.Groups["labels"].Value.Contains(p, StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new Xunit.Sdk.XunitException($"no sample {name}{{{string.Join(",", parts)}}} in:\n{scrape}");
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
