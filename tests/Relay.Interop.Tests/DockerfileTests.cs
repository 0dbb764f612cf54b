using System.Text.RegularExpressions;
using System.Xml.Linq;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// No Docker engine runs here, so the Dockerfile is checked for what can be checked without one: every path it
/// copies exists, its build command is the one the README documents, and the image runs the right binary safely.
/// </summary>
public partial class DockerfileTests
{
    /// <summary>Instructions with their continuation lines joined.</summary>
    private static readonly string[] Lines = Regex.Replace(File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile")), @"\\\n\s*", " ").Split('\n');

    private static IEnumerable<string> Instructions(string keyword) =>
        Lines.Where(l => l.StartsWith(keyword + " ", StringComparison.Ordinal)).Select(l => l[(keyword.Length + 1)..].Trim());

    [Fact]
    public void Every_path_the_dockerfile_copies_from_the_repository_exists()
    {
        var sources = Instructions("COPY").Where(c => !c.StartsWith("--from", StringComparison.Ordinal))
            .SelectMany(c => c.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1)).ToList();
        Assert.NotEmpty(sources);
        foreach (string source in sources)
        {
            string path = Path.Combine(Repository.Root, source);
            Assert.True(File.Exists(path) || Directory.Exists(path), $"COPY source '{source}' does not exist");
        }
    }

    [Fact]
    public void The_publish_command_is_the_one_the_readme_documents()
    {
        string publish = Instructions("RUN").Single(r => r.StartsWith("dotnet publish", StringComparison.Ordinal));
        var command = PublishCommand().Match(publish);
        Assert.True(command.Success, publish);
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        Assert.Contains(command.Value, readme);
        Assert.True(File.Exists(Path.Combine(Repository.Root, command.Groups[1].Value)));
    }

    [Fact]
    public void The_image_runs_the_relay_binary_as_a_non_root_user_with_a_health_check()
    {
        var project = XDocument.Load(Path.Combine(Repository.Root, "src/Relay.Web/Relay.Web.csproj"));
        string assembly = project.Descendants("AssemblyName").Single().Value;
        Assert.Equal("firezone-relay", assembly);
        Assert.Equal($"[\"/app/{assembly}\"]", Instructions("ENTRYPOINT").Single());
        Assert.Equal("$APP_UID", Instructions("USER").Single());
        Assert.Contains("/healthz", Instructions("HEALTHCHECK").Single());
        string expose = Instructions("EXPOSE").Single();
        Assert.Contains("3478/udp", expose);
        Assert.Contains("49152-65535/udp", expose);
        Assert.Contains("8080", expose);
        Assert.Contains("libbpf1", string.Join('\n', Instructions("RUN")));
    }

    [GeneratedRegex(@"dotnet publish (\S+\.csproj) -c Release")]
    private static partial Regex PublishCommand();
}
