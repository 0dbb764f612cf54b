using System.Net;

namespace Relay.Xdp;

/// <summary>What the fast path needs to know of the relay: where to attach, its ports and its addresses.</summary>
public sealed record XdpOptions
{
    /// <summary>The interface (--ebpf-offloading).</summary>
    public required string Interface { get; init; }

    public XdpAttachMode AttachMode { get; init; } = XdpAttachMode.Driver;

    public required ushort ListenPort { get; init; }

    public required ushort LowestPort { get; init; }

    public required ushort HighestPort { get; init; }

    public IPAddress? PublicV4 { get; init; }

    public IPAddress? PublicV6 { get; init; }

    /// <summary>Source of IPv6-to-IPv4 translations (--ebpf-int4-addr); the interface's own IPv4 address when null.</summary>
    public IPAddress? InterfaceV4 { get; init; }

    /// <summary>Source of IPv4-to-IPv6 translations (--ebpf-int6-addr); the interface's own IPv6 address when null.</summary>
    public IPAddress? InterfaceV6 { get; init; }

    /// <summary>--max-bps: payload bytes per second per allocation and direction; 0 = no cap.</summary>
    public long MaxBytesPerSecondPerAllocation { get; init; }

    public string ObjectPath { get; init; } = XdpProgram.DefaultObjectPath;
}
