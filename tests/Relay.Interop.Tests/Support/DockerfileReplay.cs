using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Relay.Interop.Tests.Support;

/// <summary>
/// Runs a Dockerfile stage's instructions outside Docker, in order, under a directory that stands for the image's
/// root: WORKDIR and absolute paths are taken below it, COPY copies from the repository (honouring .dockerignore's
/// "dir/" patterns), RUN runs the same command with its absolute paths moved below the root. apt-get lines cannot
/// run here: their packages must already be installed (CI installs them), which is checked instead.
/// </summary>
public sealed partial class DockerfileReplay(string repository, string root)
{
    private string _workdir = "/";

    public List<string> Log { get; } = new();

    /// <summary>Instructions of the stage named <paramref name="stage"/> (continuation lines joined).</summary>
    public static List<(string Keyword, string Arguments)> Stage(string dockerfile, string? stage)
    {
        var instructions = new List<(string, string)>();
        bool inside = false;
        foreach (string raw in JoinContinuations(dockerfile))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int space = line.IndexOf(' ');
            string keyword = space < 0 ? line : line[..space];
            string arguments = space < 0 ? string.Empty : line[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                inside = stage is null ? !arguments.Contains(" AS ", StringComparison.OrdinalIgnoreCase) : arguments.EndsWith(" AS " + stage, StringComparison.OrdinalIgnoreCase);
                continue;
            }

            if (inside)
            {
                instructions.Add((keyword, arguments));
            }
        }

        return instructions;
    }

    /// <summary>The Dockerfile's lines with backslash continuations joined.</summary>
    public static string[] JoinContinuations(string dockerfile) => Regex.Replace(dockerfile, @"\\\n\s*", " ").Split('\n');

    public string Below(string path) => Path.Combine(root, Path.GetFullPath(path, _workdir).TrimStart('/'));

    public async Task RunAsync(IEnumerable<(string Keyword, string Arguments)> instructions, Func<string, string>? fromStage = null)
    {
        foreach (var (keyword, arguments) in instructions)
        {
            Log.Add($"{keyword} {arguments}");
            switch (keyword)
            {
                case "WORKDIR":
                    _workdir = Path.GetFullPath(arguments, _workdir);
                    Directory.CreateDirectory(Below(_workdir));
                    break;
                case "COPY":
                    Copy(arguments, fromStage);
                    break;
                case "RUN" when arguments.StartsWith("apt-get", StringComparison.Ordinal):
                    AssertInstalled(AptPackages().Match(arguments).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
                    break;
                case "RUN":
                    await ShellAsync(AbsolutePath().Replace(arguments, m => m.Groups[1].Value + Below(m.Groups[2].Value)));
                    break;
            }
        }
    }

    private void Copy(string arguments, Func<string, string>? fromStage)
    {
        string[] parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string? stage = parts[0].StartsWith("--from=", StringComparison.Ordinal) ? parts[0]["--from=".Length..] : null;
        string[] paths = stage is null ? parts : parts[1..];
        string destination = Below(paths[^1]);
        foreach (string source in paths[..^1])
        {
            string from = stage is null ? Path.Combine(repository, source) : fromStage!(source);
            if (Directory.Exists(from))
            {
                CopyDirectory(from, destination, stage is null ? Path.GetRelativePath(repository, from) : null);
            }
            else
            {
                Assert.True(File.Exists(from), $"COPY source '{source}' does not exist");
                string target = paths[^1].EndsWith('/') || Directory.Exists(destination) ? Path.Combine(destination, Path.GetFileName(from)) : destination;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(from, target, overwrite: true);
            }
        }
    }

    /// <param name="relative">The path in the build context, whose .dockerignore applies; null for another stage's files.</param>
    private void CopyDirectory(string from, string to, string? relative)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true); // keeps the mode (the apphost's x bit)
        }

        foreach (string directory in Directory.EnumerateDirectories(from))
        {
            string name = Path.GetFileName(directory);
            if (relative is null || !Ignored(Path.Combine(relative, name)))
            {
                CopyDirectory(directory, Path.Combine(to, name), relative is null ? null : Path.Combine(relative, name));
            }
        }
    }

    /// <summary>.dockerignore's directory patterns ("**/bin/", "tests/"), which are the only kind it uses.</summary>
    private bool Ignored(string relative)
    {
        string path = relative.Replace('\\', '/').TrimStart('.', '/');
        foreach (string pattern in File.ReadAllLines(Path.Combine(repository, ".dockerignore")).Select(l => l.Trim().TrimEnd('/')).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            bool matches = pattern.StartsWith("**/", StringComparison.Ordinal)
                ? path.Split('/')[^1] == pattern[3..]
                : path == pattern;
            if (matches)
            {
                return true;
            }
        }

        return false;
    }

    private static void AssertInstalled(IEnumerable<string> packages)
    {
        foreach (string package in packages)
        {
            var dpkg = Process.Start(new ProcessStartInfo("dpkg-query", ["-W", "-f=${Status}", package]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string status = dpkg.StandardOutput.ReadToEnd();
            dpkg.WaitForExit();
            Assert.True(status.Contains("install ok installed", StringComparison.Ordinal), $"the Dockerfile installs {package}, which this machine lacks (bash .ci/run installs it)");
        }
    }

    private async Task ShellAsync(string command)
    {
        var start = new ProcessStartInfo("sh", ["-c", command]) { WorkingDirectory = Below(_workdir) };
        ProcessResult result = await BoundedProcess.RunAsync(start, TimeSpan.FromMinutes(10));
        Assert.True(result.Code == 0, $"RUN {command} exited {result.Code}:\n{result.Output}");
    }

    [GeneratedRegex(@"apt-get install [^&]*?--no-install-recommends ([a-z0-9+.\- ]+?)\s*(&&|$)")]
    private static partial Regex AptPackages();

    /// <summary>An absolute path argument: after a space, "/" and a path (not a flag like -o's value glued to it).</summary>
    [GeneratedRegex(@"(\s)(/[A-Za-z0-9_./-]+)")]
    private static partial Regex AbsolutePath();
}
