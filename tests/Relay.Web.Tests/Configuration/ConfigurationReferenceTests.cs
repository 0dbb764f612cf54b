using Relay.TestSupport;
using Relay.Web.Configuration;

namespace Relay.Web.Tests.Configuration;

/// <summary>docs/configuration.md is what the definitions generate: the document and the code cannot drift apart.</summary>
public sealed class ConfigurationReferenceTests
{
    [Fact]
    public void The_committed_reference_is_the_generated_one()
    {
        string path = Path.Combine(Repository.Root, "docs", "configuration.md");
        string generated = ConfigurationReference.Markdown();
        Assert.True(File.Exists(path), "docs/configuration.md is missing: write it with 'firezone-relay config-reference > docs/configuration.md'");
        Assert.True(generated == File.ReadAllText(path), "docs/configuration.md is out of date: regenerate it with 'dotnet run --project src/Relay.Web -- config-reference > docs/configuration.md'");
    }

    [Fact]
    public void Every_setting_is_in_the_reference_with_its_environment_and_default()
    {
        string reference = ConfigurationReference.Markdown();
        foreach (Setting setting in Setting.All)
        {
            Assert.Contains($"| `{setting.Flag}` |", reference);
            Assert.All(setting.Environment, e => Assert.Contains($"`{e}`", reference));
            if (setting.Default is { } value)
            {
                Assert.Contains($"`{value}`", reference);
            }
        }
    }
}
