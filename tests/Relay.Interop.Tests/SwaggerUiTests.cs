using System.Text.RegularExpressions;
using Relay.Interop.Tests.Support;
using Relay.TestSupport;

namespace Relay.Interop.Tests;

/// <summary>
/// Swagger UI rendered by a real headless Chromium against the running relay: the rendered page lists the admin
/// endpoints, and a screenshot is kept in artifacts/swagger-ui.png as proof a person can use it.
/// </summary>
public partial class SwaggerUiTests
{
    private const string Chromium = "chromium";

    private static string[] ChromiumArgs(string profile) =>
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", $"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
    ];

    [RequiresFact(Chromium)]
    public async Task Swagger_ui_renders_the_admin_endpoints_in_chromium()
    {
        TestEnvironment.Require(tools: [Chromium]);
        using var relay = await RelayProcess.StartLoopbackAsync();
        using var tools = new Tools();
        string url = $"http://127.0.0.1:{relay.HttpPort}/swagger/index.html";
        string profile = Directory.CreateTempSubdirectory("relay-chromium-").FullName;
        try
        {
            var (code, dom) = await tools.RunAsync(Chromium, [.. ChromiumArgs(profile), "--dump-dom", url], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, dom);
            var paths = DataPath().Matches(dom).Select(m => m.Groups[1].Value).ToHashSet();
            foreach (string expected in new[] { "/admin/allocations", "/admin/allocations/{id}", "/admin/credentials", "/admin/status", "/admin/ebpf/maps", "/admin/ebpf/stats", "/log_filter" })
            {
                Assert.Contains(expected, paths);
            }

            Assert.Contains("firezone-relay admin API", dom);
            Assert.Contains("Evict one allocation", dom);

            string screenshot = Path.Combine(Repository.Root, "artifacts", "swagger-ui.png");
            Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
            File.Delete(screenshot);
            (code, string output) = await tools.RunAsync(Chromium, [.. ChromiumArgs(profile), "--window-size=1280,1800", $"--screenshot={screenshot}", url], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, output);
            byte[] png = await File.ReadAllBytesAsync(screenshot);
            Assert.True(png.Length > 20_000, $"screenshot of {png.Length} bytes looks empty");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    [GeneratedRegex("data-path=\"([^\"]+)\"")]
    private static partial Regex DataPath();
}
