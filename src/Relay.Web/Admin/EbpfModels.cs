namespace Relay.Web.Admin;

/// <summary>The XDP program's configuration and the size of each map.</summary>
/// <param name="Interface">The interface the program is attached to.</param>
/// <param name="AttachMode">driver or generic.</param>
/// <param name="Config">What relay_config holds.</param>
/// <param name="Maps">Each map with its entry count and capacity; page through one with GET /admin/ebpf/maps/{name}.</param>
public sealed record EbpfMapsModel(string Interface, string AttachMode, EbpfConfigModel Config, IReadOnlyList<EbpfMapSummary> Maps);

/// <summary>The program's configuration (written at start; the MTU follows the interface).</summary>
/// <param name="ListenPort">STUN/TURN port: ChannelData from clients arrives here.</param>
/// <param name="RelayPorts">Allocation port range.</param>
/// <param name="Mtu">Packets that would grow beyond it are left to userspace.</param>
/// <param name="PublicAddresses">The relay's advertised addresses.</param>
/// <param name="SourceV4">Source of IPv6-to-IPv4 translations (--ebpf-int4-addr or the interface's address).</param>
/// <param name="SourceV6">Source of IPv4-to-IPv6 translations (--ebpf-int6-addr or the interface's address).</param>
/// <param name="MaxBytesPerSecondPerAllocation">--max-bps, enforced per allocation port and direction in port_budgets (0 = no cap).</param>
public sealed record EbpfConfigModel(int ListenPort, string RelayPorts, int Mtu, IReadOnlyList<string> PublicAddresses, string? SourceV4, string? SourceV6,
    long MaxBytesPerSecondPerAllocation);

/// <summary>One BPF map.</summary>
/// <param name="Name">client_channels, peer_bindings or live_ports.</param>
/// <param name="Entries">Entries in use.</param>
/// <param name="Capacity">Most entries it can hold.</param>
public sealed record EbpfMapSummary(string Name, int Entries, int Capacity);

/// <summary>A page of one map's entries, decoded.</summary>
/// <param name="Map">The map.</param>
/// <param name="Items">Entries in order of allocation port, then channel (binding maps) or port (live_ports).</param>
/// <param name="NextCursor">Pass as <c>cursor</c> for the next page; null on the last page.</param>
/// <param name="Total">Entries in the map.</param>
public sealed record EbpfMapPage(string Map, IReadOnlyList<EbpfEntryModel> Items, string? NextCursor, int Total);

/// <summary>
/// One map entry. Binding maps (client_channels: client and channel to peer; peer_bindings: peer and allocation port
/// to client and channel) fill client, channel, peer, allocationPort and their counters; live_ports fills
/// allocationPort and families.
/// </summary>
/// <param name="Client">The client's address and port.</param>
/// <param name="Channel">The channel number (hex).</param>
/// <param name="Peer">The peer's address and port.</param>
/// <param name="AllocationPort">The allocation's relay port.</param>
/// <param name="Families">live_ports: ipv4 and/or ipv6, the families whose relay socket is bound.</param>
/// <param name="Packets">Payload packets XDP relayed through this entry (client to peer in client_channels, peer to client in peer_bindings).</param>
/// <param name="Bytes">Payload bytes, likewise.</param>
public sealed record EbpfEntryModel(string? Client, string? Channel, string? Peer, int AllocationPort, IReadOnlyList<string>? Families, long? Packets, long? Bytes);

/// <summary>What the XDP program did.</summary>
/// <param name="Interface">The interface it is attached to.</param>
/// <param name="AttachMode">driver or generic.</param>
/// <param name="ProgramId">The kernel's id of the program (bpftool prog show id N).</param>
/// <param name="Routes">Relayed payload packets and bytes by route (client family, peer family) and direction.</param>
/// <param name="Hairpin">Relay-to-relay packets by the sending and receiving clients' families (also in Routes).</param>
/// <param name="Passed">Packets handed to userspace untouched, by reason.</param>
/// <param name="Dropped">Packets dropped, by reason.</param>
/// <param name="Bindings">Channels offloaded now.</param>
/// <param name="BindingFailures">Channels the maps could not take (full), relayed by userspace instead.</param>
/// <param name="Program">Run count and time, counted while kernel.bpf_stats_enabled is 1.</param>
public sealed record EbpfStatsModel(
    string Interface,
    string AttachMode,
    uint ProgramId,
    IReadOnlyList<EbpfRouteModel> Routes,
    IReadOnlyList<EbpfRouteModel> Hairpin,
    IReadOnlyDictionary<string, long> Passed,
    IReadOnlyDictionary<string, long> Dropped,
    int Bindings,
    long BindingFailures,
    EbpfProgramModel Program);

/// <summary>Traffic on one route.</summary>
/// <param name="Route">44, 46, 64 or 66: client family then peer family (hairpin: sending then receiving client).</param>
/// <param name="Direction">client_to_peer, peer_to_client, or hairpin.</param>
/// <param name="Packets">Payload packets.</param>
/// <param name="Bytes">Payload bytes.</param>
public sealed record EbpfRouteModel(string Route, string Direction, long Packets, long Bytes);

/// <summary>The program's cost as the kernel measures it.</summary>
/// <param name="StatsEnabled">Whether kernel.bpf_stats_enabled is 1 (sysctl -w kernel.bpf_stats_enabled=1); the counts stand still otherwise.</param>
/// <param name="RunCount">Runs (one per packet on the interface).</param>
/// <param name="RunTimeNs">Total time in the program.</param>
/// <param name="AverageNs">Time per run.</param>
public sealed record EbpfProgramModel(bool StatsEnabled, long RunCount, long RunTimeNs, double? AverageNs);
