using System.Runtime.InteropServices;

namespace Relay.Xdp.Maps;

// The C# mirrors of bpf/relay_structs.h, field for field (names in PascalCase). tests/Relay.Xdp.Tests compares
// their sizes and offsets with the BTF of the compiled object. Addresses, ports and channel numbers are in network
// order, counters and the config's ports in host order, exactly as in C.

[StructLayout(LayoutKind.Sequential)]
public unsafe struct ClientChannelKey
{
    public fixed byte ClientAddr[16];
    public ushort ClientPort;
    public ushort Channel;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct ClientChannelValue
{
    public fixed byte PeerAddr[16];
    public ushort PeerPort;
    public ushort AllocationPort;
    public byte PeerFamily;
    public fixed byte Reserved[3];
    public ulong Packets;
    public ulong Bytes;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PeerBindingKey
{
    public fixed byte PeerAddr[16];
    public ushort PeerPort;
    public ushort AllocationPort;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PeerBindingValue
{
    public fixed byte ClientAddr[16];
    public ushort ClientPort;
    public ushort Channel;
    public byte ClientFamily;
    public fixed byte Reserved[3];
    public ulong Packets;
    public ulong Bytes;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct RelayConfig
{
    public fixed byte PublicV6[16];
    public fixed byte InterfaceV6[16];
    public fixed byte PublicV4[4];
    public fixed byte InterfaceV4[4];
    public ushort ListenPort;
    public ushort LowestPort;
    public ushort HighestPort;
    public ushort Mtu;
    public uint Flags;
    public uint Reserved;
    public ulong MaxBps;
    public ulong BurstNs;
    public ulong NsPerByteQ16;
}

/// <summary>port_budgets value: the time (coarse kernel clock) each direction's budget is spent up to; 0 = idle.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PortBudget
{
    public fixed ulong NextNs[XdpConstants.Directions];
    public ulong OverBandwidth;
}

/// <summary>
/// One CPU's counters. C's <c>struct relay_count</c> pairs (packets, bytes) are flattened: <c>relayed[d][r]</c> is
/// <c>Relayed[2 * (d * 4 + r)]</c> (packets) and the next element (bytes); <c>hairpin[r]</c> likewise.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct RelayStats
{
    public fixed ulong Relayed[2 * XdpConstants.Directions * XdpConstants.Routes];
    public fixed ulong Hairpin[2 * XdpConstants.Routes];
    public fixed ulong Passed[XdpConstants.PassReasons];
    public fixed ulong Dropped[XdpConstants.DropReasons];
}

/// <summary>
/// <see cref="RelayStats"/> summed over CPUs. Relayed arrays are indexed <c>direction * 4 + route</c>, hairpin and
/// route arrays by route, reasons by <see cref="XdpPassReason"/> and <see cref="XdpDropReason"/>.
/// </summary>
public sealed class XdpCounters
{
    public ulong[] RelayedPackets { get; } = new ulong[XdpConstants.Directions * XdpConstants.Routes];

    public ulong[] RelayedBytes { get; } = new ulong[XdpConstants.Directions * XdpConstants.Routes];

    public ulong[] HairpinPackets { get; } = new ulong[XdpConstants.Routes];

    public ulong[] HairpinBytes { get; } = new ulong[XdpConstants.Routes];

    public ulong[] Passed { get; } = new ulong[XdpConstants.PassReasons];

    public ulong[] Dropped { get; } = new ulong[XdpConstants.DropReasons];
}

/// <summary>The constants of bpf/relay_consts.h that userspace uses.</summary>
public static class XdpConstants
{
    public const byte FamilyV4 = 4;
    public const byte FamilyV6 = 6;
    public const int MaxBindings = 65536;
    public const int Directions = 2;
    public const int Routes = 4;
    public const uint ConfigPublicV4 = 1u << 0;
    public const uint ConfigPublicV6 = 1u << 1;
    public const uint ConfigInterfaceV4 = 1u << 2;
    public const uint ConfigInterfaceV6 = 1u << 3;
    public const uint LiveV4 = 1u << 0;
    public const uint LiveV6 = 1u << 1;
    public const int PassReasons = 18;
    public const int DropReasons = 3;
    public const ulong NsPerSecond = 1_000_000_000;
}

/// <summary>enum relay_pass_reason, in the same order.</summary>
public enum XdpPassReason
{
    NotIp,
    Vlan,
    NotUdp,
    IpOptions,
    Ipv6Extension,
    Fragment,
    Malformed,
    NotLocal,
    NotRelayPort,
    NotChannelData,
    ChannelLength,
    NoBinding,
    HairpinNoBinding,
    Ttl,
    Mtu,
    ZeroChecksum,
    NoSourceAddress,
    AdjustFailed,
}

/// <summary>enum relay_drop_reason, in the same order.</summary>
public enum XdpDropReason
{
    Bounds,
    AdjustTail,
    OverBandwidth,
}
