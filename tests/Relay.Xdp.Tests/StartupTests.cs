using System.Diagnostics;
using Relay.TestSupport;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>
/// --ebpf-offloading's failures stop the real relay with exit code 2 and a message naming the flag and the cause;
/// a program that did attach goes away with the process, however the process ends.
/// </summary>
public sealed class StartupTests
{
    private static readonly string[] Namespaced = ["clang", "ip"];

    [Fact]
    public async Task An_unknown_interface_is_refused_by_name()
    {
        using var relay = RelayProcess.Start(Args("nosuch0", "driver", "--public-ip4-addr", "127.0.0.1"));

        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("error: --ebpf-offloading (EBPF_OFFLOADING) nosuch0: there is no network interface named 'nosuch0'", relay.Output);
    }

    [Fact]
    public void A_missing_object_says_what_to_install()
    {
        var error = Assert.Throws<XdpException>(() => XdpProgram.Load("/nonexistent/relay_xdp.bpf.o"));
        Assert.Contains("apt-get install clang llvm libbpf-dev", error.Message);
    }

    [RequiresFact("clang", "ip", "setpriv", Root = true)]
    public async Task Without_bpf_capabilities_the_relay_says_which_it_needs()
    {
        TestEnvironment.Require(root: true, "clang", "ip", "setpriv");
        using var ns = VethNamespace("caps");
        using var relay = RelayProcess.Start(Args("v0", "generic", "--public-ip4-addr", "10.42.0.1"),
            launcher: ["ip", "netns", "exec", ns.Name, "setpriv", "--bounding-set=-all", "--inh-caps=-all"]);

        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("error: --ebpf-offloading (EBPF_OFFLOADING) v0:", relay.Output);
        Assert.Contains("run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON", relay.Output);
    }

    [RequiresFact("clang", "ip", Root = true)]
    public async Task Driver_mode_on_an_interface_without_native_xdp_points_to_generic_mode()
    {
        TestEnvironment.Require(root: true, Namespaced);
        using var ns = VethNamespace("drv");
        using var relay = RelayProcess.Start(Args("lo", "driver", "--public-ip4-addr", "127.0.0.1"), launcher: ["ip", "netns", "exec", ns.Name]);

        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("the driver of lo has no native XDP support; use --ebpf-attach-mode generic", relay.Output);
        Assert.DoesNotContain("xdp", ns.Exec("ip", "link", "show", "lo")); // nothing half-attached
    }

    [RequiresFact("clang", "ip", Root = true)]
    public async Task A_public_family_the_interface_lacks_is_refused()
    {
        TestEnvironment.Require(root: true, Namespaced);
        using var ns = VethNamespace("fam");
        using var relay = RelayProcess.Start(Args("v0", "generic", "--public-ip4-addr", "10.42.0.1", "--public-ip6-addr", "fd42::1"),
            launcher: ["ip", "netns", "exec", ns.Name]);

        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("the relay offers IPv6 (public address fd42::1) but v0 has no IPv6 address to send it from: add one to v0 or set --ebpf-int6-addr", relay.Output);
    }

    /// <summary>The attachment is a bpf link: even SIGKILL, which runs no cleanup at all, leaves no program behind.</summary>
    [RequiresFact("clang", "ip", Root = true)]
    public async Task Generic_mode_attaches_and_the_program_goes_with_the_process()
    {
        TestEnvironment.Require(root: true, Namespaced);
        using var ns = VethNamespace("gen");
        using var relay = RelayProcess.Start(Args("v0", "generic", "--public-ip4-addr", "10.42.0.1"), launcher: ["ip", "netns", "exec", ns.Name]);
        await relay.WaitUntilListeningAsync();
        Assert.Contains("XDP fast path attached to v0 in generic mode", relay.Output);
        Assert.Contains("xdpgeneric", ns.Exec("ip", "link", "show", "v0"));

        Process.GetProcessById(relay.Pid).Kill();
        await relay.WaitForExitAsync(TimeSpan.FromSeconds(10));

        await Eventually.TrueAsync(() => !ns.Exec("ip", "link", "show", "v0").Contains("xdp", StringComparison.Ordinal), "the kernel to detach the program");
    }

    /// <summary>A namespace holding veth pair v0-v1, v0 with 10.42.0.1/24 and no global IPv6 address.</summary>
    private static NetworkNamespace VethNamespace(string role)
    {
        var ns = NetworkNamespace.Create($"rx{Environment.ProcessId}-{role}");
        try
        {
            ns.Exec("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1");
            ns.Exec("ip", "addr", "add", "10.42.0.1/24", "dev", "v0");
            ns.Exec("ip", "link", "set", "v0", "up");
            ns.Exec("ip", "link", "set", "v1", "up");
            ns.Exec("ip", "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    private static string[] Args(string iface, string mode, params string[] extra) =>
    [
        "--ebpf-offloading", iface, "--ebpf-attach-mode", mode, "--listen-port", "0",
        "--health-check-addr", "127.0.0.1:0", "--control-endpoint", "127.0.0.1:0", "--log-filter", "info", .. extra,
    ];
}
