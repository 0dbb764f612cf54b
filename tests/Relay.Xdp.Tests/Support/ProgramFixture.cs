using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.TestSupport;
using Relay.Xdp.Maps;

namespace Relay.Xdp.Tests.Support;

/// <summary>
/// relay_xdp loaded into the kernel but attached nowhere: frames go through it with BPF_PROG_TEST_RUN. It is
/// configured as a dual-stack relay whose interface addresses differ from its public ones, so that a test can tell
/// "the address the packet arrived on" from "the interface address of the other family".
/// </summary>
public class ProgramFixture : IDisposable
{
    public const ushort ListenPort = 3478;
    public static readonly IPAddress PublicV4 = IPAddress.Parse("192.0.2.1");
    public static readonly IPAddress PublicV6 = IPAddress.Parse("2001:db8::1");
    public static readonly IPAddress InterfaceV4 = IPAddress.Parse("10.0.0.1");
    public static readonly IPAddress InterfaceV6 = IPAddress.Parse("fd00::1");

    private readonly string? _skip;

    public ProgramFixture()
        : this(Options, new XdpInterface("test0", 0, 1500, [InterfaceV4], [InterfaceV6]))
    {
    }

    /// <summary>A program of its own (own maps) configured with <paramref name="options"/> for <paramref name="nic"/>.</summary>
    protected ProgramFixture(XdpOptions options, XdpInterface nic)
    {
        _skip = TestEnvironment.SkipReason(root: true, ["clang"]);
        if (_skip is not null)
        {
            return; // the tests skip (locally only) before touching Program
        }

        TestEnvironment.Require(root: true, "clang");
        string path = Path.Combine(AppContext.BaseDirectory, "relay_xdp.bpf.o");
        Program = XdpProgram.Load(path);
        FastPath = XdpFastPath.Create(Program, options, nic, NullLogger.Instance);
    }

    public static XdpOptions Options { get; } = new()
    {
        Interface = "test0",
        ListenPort = ListenPort,
        LowestPort = 49152,
        HighestPort = 65535,
        PublicV4 = PublicV4,
        PublicV6 = PublicV6,
    };

    internal XdpProgram Program { get; } = null!;

    public XdpFastPath FastPath { get; } = null!;

    public static IPAddress Public(IpFamily family) => family == IpFamily.V4 ? PublicV4 : PublicV6;

    public static IPAddress Interface(IpFamily family) => family == IpFamily.V4 ? InterfaceV4 : InterfaceV6;

    /// <summary>Runs one frame through the program.</summary>
    public (uint Action, byte[] Output) Run(byte[] frame)
    {
        var (action, output, _) = Program.TestRun(frame);
        return (action, output);
    }

    /// <summary>Installs a channel and its allocation port as the data plane would.</summary>
    public void Bind(IPEndPoint client, ushort channel, IPEndPoint peer, ushort port)
    {
        FastPath.AllocationBound(new AllocationPort(port), peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? IpFamily.V4 : IpFamily.V6);
        FastPath.ChannelBound(new AddChannelBinding(new ClientSocket(TransportAddress.FromIPEndPoint(client)), new ChannelNumber(channel),
            new PeerSocket(TransportAddress.FromIPEndPoint(peer)), new AllocationPort(port)));
    }

    public void Unbind(IPEndPoint client, ushort channel, IPEndPoint peer, ushort port) =>
        FastPath.ChannelUnbound(new RemoveChannelBinding(new ClientSocket(TransportAddress.FromIPEndPoint(client)), new ChannelNumber(channel),
            new PeerSocket(TransportAddress.FromIPEndPoint(peer)), new AllocationPort(port)));

    internal XdpCounters Stats() => FastPath.SumStats();

    public void Dispose()
    {
        FastPath?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>An IPv4-only relay: no public IPv6 address and none on the interface.</summary>
public sealed class SingleStackProgramFixture() : ProgramFixture(
    Options with { PublicV6 = null }, new XdpInterface("test0", 0, 1500, [InterfaceV4], []));

/// <summary>
/// A relay with a per-allocation cap of 1000 bytes/s (--max-bps 1000): its buckets hold the 65,536-byte minimum and
/// refill by one byte per millisecond, so a test's few milliseconds of frames cannot earn a packet's worth.
/// </summary>
public sealed class CappedProgramFixture() : ProgramFixture(
    Options with { MaxBytesPerSecondPerAllocation = 1000 }, new XdpInterface("test0", 0, 1500, [InterfaceV4], [InterfaceV6]));
