using Relay.TestSupport;
using Relay.Xdp.Tests.Support;

namespace Relay.Xdp.Tests;

/// <summary>What the loader reports when the kernel refuses a program.</summary>
public sealed class LoaderTests
{
    /// <summary>A program the verifier must reject: it reads the packet without checking its length.</summary>
    private const string Unchecked = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        SEC("xdp") int relay_xdp(struct xdp_md *ctx) { return *(unsigned char *)(long)ctx->data; }
        char LICENSE[] SEC("license") = "GPL";
        """;

    [RequiresFact("clang", Root = true)]
    public void A_verifier_rejection_quotes_the_verifiers_last_lines()
    {
        TestEnvironment.Require(root: true, "clang");
        DirectoryInfo work = Directory.CreateTempSubdirectory("relay-xdp-");
        try
        {
            string source = Path.Combine(work.FullName, "unchecked.bpf.c"), obj = Path.Combine(work.FullName, "unchecked.bpf.o");
            File.WriteAllText(source, Unchecked);
            NetworkNamespace.Run("bash", "-c", $"clang -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c '{source}' -o '{obj}'");

            var error = Assert.Throws<XdpException>(() => XdpProgram.Load(obj));

            Assert.Contains("the kernel refused the XDP program", error.Message);
            Assert.Contains("the verifier said", error.Message);
            Assert.Contains("invalid access to packet", error.Message);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
