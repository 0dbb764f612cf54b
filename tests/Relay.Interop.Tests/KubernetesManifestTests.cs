using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// The Kubernetes manifests (deploy/kubernetes), rendered and validated offline by the Node.js validator against the
/// Kubernetes and Prometheus Operator schemas; then what the schemas cannot say: the settings the relay really has,
/// probes on its health listener, a grace period longer than the drain. Nothing is applied to a cluster.
/// </summary>
public partial class KubernetesManifestTests
{
    private static readonly string Deploy = Path.Combine(Repository.Root, "deploy", "kubernetes");
    private static readonly string Validator = Path.Combine(Deploy, "validate", "validate.mjs");
    private static readonly string[] Kustomizations = ["base", "overlays/xdp", "podmonitor"];

    [RequiresValidatorFact]
    public async Task Every_rendered_object_is_valid_against_the_schemas()
    {
        var (code, output) = await ValidateAsync(Deploy);

        Assert.True(code == 0, output);
        foreach (string expected in new[] { "base: Namespace", "base: DaemonSet", "overlays/xdp: DaemonSet", "podmonitor: PodMonitor" })
        {
            Assert.Contains($"ok   {expected} firezone-relay", output);
        }
    }

    [RequiresValidatorFact]
    public async Task Both_daemonsets_probe_the_health_listener_drain_within_the_grace_period_and_use_real_settings()
    {
        var rendered = await RenderAsync();
        var documented = DocumentedVariables();
        foreach (string kustomization in new[] { "base", "overlays/xdp" })
        {
            var pod = DaemonSet(rendered, kustomization).GetProperty("spec").GetProperty("template");
            var spec = pod.GetProperty("spec");
            var container = spec.GetProperty("containers")[0];
            var env = container.GetProperty("env").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);

            Assert.All(env.Keys, name => Assert.True(documented.Contains(name), $"{kustomization}: {name} is not a setting in docs/configuration.md"));
            Assert.True(spec.GetProperty("hostNetwork").GetBoolean());
            Assert.Equal("ClusterFirstWithHostNet", spec.GetProperty("dnsPolicy").GetString());

            int drain = int.Parse(env["DRAIN_TIMEOUT"].GetProperty("value").GetString()!);
            Assert.True(drain > 0);
            Assert.True(spec.GetProperty("terminationGracePeriodSeconds").GetInt32() > drain, "the kubelet would kill the relay mid-drain");

            Assert.Equal("0.0.0.0:8080", env["HEALTH_CHECK_ADDR"].GetProperty("value").GetString());
            Assert.Equal(("/healthz", 8080), Probe(container, "livenessProbe"));
            Assert.Equal(("/readyz", 8080), Probe(container, "readinessProbe"));
            var annotations = pod.GetProperty("metadata").GetProperty("annotations");
            Assert.Equal("true", annotations.GetProperty("prometheus.io/scrape").GetString());
            Assert.Equal("8080", annotations.GetProperty("prometheus.io/port").GetString());
            Assert.Equal("/metrics", annotations.GetProperty("prometheus.io/path").GetString());

            Assert.Equal("status.hostIP", env["PUBLIC_IP4_ADDR"].GetProperty("valueFrom").GetProperty("fieldRef").GetProperty("fieldPath").GetString());
            var token = env["FIREZONE_TOKEN"].GetProperty("valueFrom").GetProperty("secretKeyRef");
            Assert.False(token.TryGetProperty("optional", out var optional) && optional.GetBoolean(), "a missing Secret must stop the pod, not start a standalone relay");
            Assert.True(env.ContainsKey("FIREZONE_API_URL"), "a token needs the portal URL");

            var security = container.GetProperty("securityContext");
            Assert.True(security.GetProperty("readOnlyRootFilesystem").GetBoolean());
            Assert.False(security.GetProperty("allowPrivilegeEscalation").GetBoolean());
            Assert.False(security.GetProperty("privileged").GetBoolean());
            Assert.Equal(["ALL"], Strings(security.GetProperty("capabilities").GetProperty("drop")));
            Assert.Equal("RuntimeDefault", spec.GetProperty("securityContext").GetProperty("seccompProfile").GetProperty("type").GetString());
            Assert.Contains(container.GetProperty("volumeMounts").EnumerateArray(), m => m.GetProperty("mountPath").GetString() == "/tmp");
            foreach (string kind in new[] { "requests", "limits" })
            {
                var resources = container.GetProperty("resources").GetProperty(kind);
                Assert.True(resources.TryGetProperty("cpu", out _) && resources.TryGetProperty("memory", out _), kind);
            }

            var metricsPort = container.GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "metrics");
            Assert.Equal(8080, metricsPort.GetProperty("containerPort").GetInt32());
        }
    }

    [RequiresValidatorFact]
    public async Task Only_the_xdp_overlay_adds_capabilities_and_the_interface()
    {
        var rendered = await RenderAsync();
        var @base = DaemonSet(rendered, "base").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        var xdp = DaemonSet(rendered, "overlays/xdp").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];

        Assert.True(@base.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean());
        Assert.False(@base.GetProperty("securityContext").GetProperty("capabilities").TryGetProperty("add", out _));
        Assert.DoesNotContain(@base.GetProperty("env").EnumerateArray(), e => e.GetProperty("name").GetString()!.StartsWith("EBPF_", StringComparison.Ordinal));

        Assert.Equal(["NET_ADMIN", "BPF", "PERFMON"], Strings(xdp.GetProperty("securityContext").GetProperty("capabilities").GetProperty("add")));
        Assert.Equal("eth0", xdp.GetProperty("env").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "EBPF_OFFLOADING").GetProperty("value").GetString());
    }

    [RequiresValidatorFact]
    public async Task The_pod_monitor_scrapes_the_daemonsets_metrics_port()
    {
        var rendered = await RenderAsync();
        var monitor = rendered.GetProperty("podmonitor")[0].GetProperty("spec");
        var endpoint = monitor.GetProperty("podMetricsEndpoints")[0];
        Assert.Equal("metrics", endpoint.GetProperty("port").GetString());
        Assert.Equal("/metrics", endpoint.GetProperty("path").GetString());
        var labels = DaemonSet(rendered, "base").GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels");
        foreach (var selector in monitor.GetProperty("selector").GetProperty("matchLabels").EnumerateObject())
        {
            Assert.Equal(selector.Value.GetString(), labels.GetProperty(selector.Name).GetString());
        }
    }

    /// <summary>A broken copy of the manifests must fail validation: proof that the validator validates.</summary>
    [RequiresValidatorTheory]
    [InlineData("base/daemonset.yaml", "hostNetwork: true", "hostNetwork: \"yes\"", "hostNetwork must be boolean")]
    [InlineData("base/daemonset.yaml", "      hostNetwork: true", "      hostNetwork: true\n      hostNetwrok: true", "unknown field /spec/template/spec/hostNetwrok")]
    [InlineData("base/daemonset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: true\n            readOnlyRootFS: true", "unknown field /spec/template/spec/containers/0/securityContext/readOnlyRootFS")]
    [InlineData("base/daemonset.yaml", "kind: DaemonSet", "kind: DaemonSett", "unknown kind apps/v1/DaemonSett")]
    [InlineData("base/daemonset.yaml", "memory: 1Gi", "memory: lots", "memory must match format \"quantity\"")]
    [InlineData("podmonitor/podmonitor.yaml", "      path: /metrics", "      pth: /metrics", "unknown field /spec/podMetricsEndpoints/0/pth")]
    [InlineData("overlays/xdp/xdp.patch.yaml", "value: relay", "value: sidecar", "Test operation failed")]
    [InlineData("base/kustomization.yaml", "resources:", "namespace: other\nresources:", "not supported by this renderer: namespace")]
    public async Task A_broken_manifest_is_rejected(string file, string find, string replace, string expected)
    {
        var copy = Directory.CreateTempSubdirectory("relay-k8s-");
        try
        {
            foreach (string kustomization in Kustomizations)
            {
                foreach (string source in Directory.EnumerateFiles(Path.Combine(Deploy, kustomization)))
                {
                    string target = Path.Combine(copy.FullName, Path.GetRelativePath(Deploy, source));
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(source, target);
                }
            }

            string path = Path.Combine(copy.FullName, file);
            string text = await File.ReadAllTextAsync(path);
            Assert.Contains(find, text);
            await File.WriteAllTextAsync(path, text.Replace(find, replace, StringComparison.Ordinal));

            var (code, output) = await ValidateAsync(copy.FullName);

            Assert.True(code == 1, output);
            Assert.Contains(expected, output);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    private static async Task<JsonElement> RenderAsync()
    {
        string file = Path.Combine(Path.GetTempPath(), $"relay-k8s-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output) = await ValidateAsync(Deploy, "--out", file);
            Assert.True(code == 0, output);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(file));
            return document.RootElement.Clone();
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static JsonElement DaemonSet(JsonElement rendered, string kustomization) =>
        rendered.GetProperty(kustomization).EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "DaemonSet");

    private static (string Path, int Port) Probe(JsonElement container, string probe)
    {
        var get = container.GetProperty(probe).GetProperty("httpGet");
        return (get.GetProperty("path").GetString()!, get.GetProperty("port").GetInt32());
    }

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>The environment variables of docs/configuration.md's tables (generated from the relay's settings).</summary>
    private static HashSet<string> DocumentedVariables()
    {
        var names = File.ReadLines(Path.Combine(Repository.Root, "docs", "configuration.md"))
            .Select(line => TableRow().Match(line))
            .Where(row => row.Success)
            .SelectMany(row => Backticked().Matches(row.Groups[1].Value).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("DRAIN_TIMEOUT", names);
        return names;
    }

    /// <summary>Runs the validator on the kustomizations under <paramref name="root"/>, in that folder.</summary>
    private static async Task<(int Code, string Output)> ValidateAsync(string root, params string[] options)
    {
        RequiresValidatorFactAttribute.Require();
        var info = new ProcessStartInfo("node") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Validator);
        foreach (string argument in options.Concat(Kustomizations))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the validator ran longer than 2 minutes:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, new StringBuilder(await stdout).Append(await stderr).ToString());
    }

    [GeneratedRegex(@"^\| `--[a-z0-9-]+` \| ([^|]+) \|")]
    private static partial Regex TableRow();

    [GeneratedRegex("`([A-Z0-9_]+)`")]
    private static partial Regex Backticked();
}

/// <summary>
/// Needs node and the validator's npm packages (installed by 'npm ci' in deploy/kubernetes/validate, which .ci/run
/// does). Skipped loudly outside CI when they are missing; under CI=true the test runs and fails.
/// </summary>
public sealed class RequiresValidatorFactAttribute : FactAttribute
{
    public RequiresValidatorFactAttribute() => Skip = SkipReason();

    internal static string? Missing()
    {
        var missing = new List<string>();
        if (TestEnvironment.FindTool("node") is null)
        {
            missing.Add("node");
        }

        string modules = Path.Combine(Repository.Root, "deploy", "kubernetes", "validate", "node_modules");
        var packages = new[] { "kubernetes-models", "@kubernetes-models/prometheus-operator", "yaml", "fast-json-patch" }
            .Where(package => !File.Exists(Path.Combine(modules, package, "package.json"))).ToList();
        if (packages.Count > 0)
        {
            missing.Add($"the npm packages {string.Join(", ", packages)} ('npm ci' in deploy/kubernetes/validate)");
        }

        return missing.Count == 0 ? null : string.Join(", ", missing);
    }

    internal static string? SkipReason() =>
        !TestEnvironment.IsCi && Missing() is { } missing
            ? $"SKIPPED (not CI): needs {missing}. Run 'sudo bash .ci/run' to install; under CI=true this test fails instead of skipping."
            : null;

    internal static void Require()
    {
        if (Missing() is { } missing)
        {
            Assert.Fail($"This test needs {missing}, which this machine lacks. Run 'sudo bash .ci/run' to install the test dependencies.");
        }
    }
}

/// <summary>The theory counterpart of <see cref="RequiresValidatorFactAttribute"/>.</summary>
public sealed class RequiresValidatorTheoryAttribute : TheoryAttribute
{
    public RequiresValidatorTheoryAttribute() => Skip = RequiresValidatorFactAttribute.SkipReason();
}
