using System.Text.RegularExpressions;
using System.Xml.Linq;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// No Docker engine runs here, so the Dockerfile is checked for what can be checked without one: every path it
/// copies exists, its build command is the one the README documents, the image runs the right binary safely, its
/// build steps replayed outside Docker give a binary that serves and passes the HEALTHCHECK, and a linter passes it.
/// What is not verified: the base images themselves and anything Docker adds at run time.
/// </summary>
public partial class DockerfileTests
{
    /// <summary>Instructions with their continuation lines joined.</summary>
    private static readonly string[] Lines = DockerfileReplay.JoinContinuations(File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile")));

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
        Assert.Contains("\"/app/firezone-relay\", \"healthcheck\"", Instructions("HEALTHCHECK").Single());
        string expose = Instructions("EXPOSE").Single();
        Assert.Contains("3478/udp", expose);
        Assert.Contains("49152-65535/udp", expose);
        Assert.Contains("8080", expose);
        Assert.Contains("libbpf1", string.Join('\n', Instructions("RUN")));
    }

    /// <summary>
    /// The image as far as it can be made without Docker: the build stage's commands run in order with the image's
    /// paths below a temporary root (restore, the BPF object, publish), the runtime stage copies the result, and
    /// the copied binary then runs as the image would: it serves, and the HEALTHCHECK command passes against it.
    /// </summary>
    [RequiresFact("clang", "dpkg-query")]
    public async Task The_build_steps_replayed_outside_docker_give_an_image_that_runs_and_passes_its_health_check()
    {
        string dockerfile = File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile"));
        DirectoryInfo temp = Directory.CreateTempSubdirectory("dockerfile-replay-");
        try
        {
            var build = new DockerfileReplay(Repository.Root, Path.Combine(temp.FullName, "build"));
            await build.RunAsync(DockerfileReplay.Stage(dockerfile, "build"));
            var image = new DockerfileReplay(Repository.Root, Path.Combine(temp.FullName, "image"));
            await image.RunAsync(DockerfileReplay.Stage(dockerfile, stage: null), build.Below);

            string entrypoint = image.Below(Instructions("ENTRYPOINT").Single().Trim('[', ']', '"'));
            Assert.True(File.Exists(entrypoint), $"ENTRYPOINT {entrypoint} is missing; the image holds {string.Join(", ", Directory.GetFiles(image.Below("/app")).Select(Path.GetFileName))}");
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(entrypoint)!, "relay_xdp.bpf.o")), "the image lacks the XDP program");

            using var relay = RelayProcess.StartShell($"exec {entrypoint} --public-ip4-addr 127.0.0.1 --bind-ip4-addr 127.0.0.1 --bind-ip6-addr ::1 "
                + "--listen-port 0 --health-check-addr 127.0.0.1:0 --control-endpoint 127.0.0.1:0", Path.GetDirectoryName(entrypoint)!);
            await relay.WaitUntilListeningAsync();
            string check = HealthCheckCommand().Match(Instructions("HEALTHCHECK").Single()).Groups[1].Value;
            string[] argv = check.Split(',').Select(a => a.Trim().Trim('"')).ToArray();
            using var probe = RelayProcess.StartShell($"exec {image.Below(argv[0])} {string.Join(' ', argv[1..])}", temp.FullName,
                new() { ["HEALTH_CHECK_ADDR"] = $"127.0.0.1:{relay.HttpPort}" });
            Assert.True(await probe.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, $"HEALTHCHECK {check} failed: {probe.Output}");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>dockerfile-utils (the Dockerfile language service's validator, from npm) finds nothing, and does find a broken copy's errors.</summary>
    [RequiresFact("node")]
    public async Task The_dockerfile_passes_the_linter_which_catches_a_broken_one()
    {
        string linter = Path.Combine(Repository.Root, "tools/dockerfile-lint/node_modules/dockerfile-utils/bin/dockerfile-utils");
        Assert.True(File.Exists(linter), "dockerfile-utils is not installed: run 'npm ci' in tools/dockerfile-lint (bash .ci/run does)");

        using var lint = RelayProcess.StartShell($"node {linter} lint Dockerfile", Repository.Root);
        Assert.True(await lint.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, lint.Output);

        string broken = Path.Combine(Path.GetTempPath(), $"Dockerfile.broken.{Environment.ProcessId}");
        File.WriteAllText(broken, File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile")).Replace("EXPOSE 3478/udp", "EXPOSE 3478/udpx"));
        try
        {
            using var lintBroken = RelayProcess.StartShell($"node {linter} lint {broken}", Repository.Root);
            Assert.NotEqual(0, await lintBroken.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("Invalid proto: udpx", lintBroken.Output);
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [GeneratedRegex(@"CMD \[(.+)\]")]
    private static partial Regex HealthCheckCommand();

    [GeneratedRegex(@"dotnet publish (\S+\.csproj) -c Release")]
    private static partial Regex PublishCommand();
}
