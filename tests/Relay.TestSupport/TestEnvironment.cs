using Xunit;

namespace Relay.TestSupport;

/// <summary>
/// What a test needs from the machine (root, a command). Locally a missing requirement skips the test with a loud
/// reason; under CI=true it never skips: the test runs and fails, naming what is missing.
/// </summary>
public static class TestEnvironment
{
    public static bool IsCi => Environment.GetEnvironmentVariable("CI") is { } ci && (ci == "1" || ci.Equals("true", StringComparison.OrdinalIgnoreCase));

    public static bool IsRoot => Environment.IsPrivilegedProcess;

    public static string? FindTool(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (string directory in new[] { "/usr/sbin", "/sbin", "/usr/local/sbin" })
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Why the requirements are not met, or null when they are.</summary>
    public static string? Missing(bool root, IEnumerable<string> tools)
    {
        var missing = tools.Where(t => FindTool(t) is null).ToList();
        if (root && !IsRoot)
        {
            missing.Insert(0, "root");
        }

        return missing.Count == 0 ? null : string.Join(", ", missing);
    }

    /// <summary>The loud skip reason outside CI, or null (run; and fail if something is missing).</summary>
    public static string? SkipReason(bool root, string[] tools) =>
        !IsCi && Missing(root, tools) is { } missing
            ? $"SKIPPED (not CI): needs {missing}. Run 'sudo bash .ci/run' to install; under CI=true this test fails instead of skipping."
            : null;

    /// <summary>Fails the test with a clear message when a requirement is missing (the CI path).</summary>
    public static void Require(bool root = false, params string[] tools)
    {
        if (Missing(root, tools) is { } missing)
        {
            Assert.Fail($"This test needs {missing}, which this machine lacks. Run 'sudo bash .ci/run' to install the test dependencies.");
        }
    }
}

/// <summary>A fact that needs root and/or commands: skipped loudly when they are missing, except under CI=true.</summary>
public sealed class RequiresFactAttribute : FactAttribute
{
    private bool _root;

    public RequiresFactAttribute(params string[] tools)
    {
        Tools = tools;
        Skip = TestEnvironment.SkipReason(false, tools);
    }

    public string[] Tools { get; }

    public bool Root
    {
        get => _root;
        set
        {
            _root = value;
            Skip = TestEnvironment.SkipReason(value, Tools);
        }
    }
}

/// <summary>The theory counterpart of <see cref="RequiresFactAttribute"/>.</summary>
public sealed class RequiresTheoryAttribute : TheoryAttribute
{
    private bool _root;

    public RequiresTheoryAttribute(params string[] tools)
    {
        Tools = tools;
        Skip = TestEnvironment.SkipReason(false, tools);
    }

    public string[] Tools { get; }

    public bool Root
    {
        get => _root;
        set
        {
            _root = value;
            Skip = TestEnvironment.SkipReason(value, Tools);
        }
    }
}
