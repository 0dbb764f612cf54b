using Relay.Core.Net;
using Relay.Core.Policy;

namespace Relay.Core.Server;

/// <summary>Why a datagram was dropped without a response.</summary>
public enum DropReason
{
    /// <summary>Neither STUN nor ChannelData by its first byte, or a STUN header that does not hold up.</summary>
    NotTurn,
    ClientPortZero,
    MalformedStun,
    BadFingerprint,
    MalformedChannelData,
    ChannelOutOfRange,
    UnknownChannel,
    NoAllocation,
    NoPermission,
    PeerRefused,
    BadIndication,
    UnexpectedStunClass,
    UnknownAllocationPort,

    /// <summary>A relayed packet over its allocation's bandwidth cap (either direction).</summary>
    OverBandwidth,

    /// <summary>An error response to an unauthenticated request withheld: its source had had its share.</summary>
    UnauthenticatedRateLimited,
}

public enum RelayDirection
{
    ClientToPeer,
    PeerToClient,
}

/// <summary>
/// Live counters of the userspace data path, written by the engine's thread and read by metrics without locks
/// (aligned 64-bit reads are atomic on the 64-bit platforms the relay runs on; a reader may be one packet behind).
/// Routes are named by (client family, peer family): 44, 46, 64, 66.
/// </summary>
public sealed class RelayCounters
{
    private static readonly int DropReasonCount = Enum.GetValues<DropReason>().Length;

    private readonly long[] _packets = new long[8];
    private readonly long[] _bytes = new long[8];
    private readonly long[] _drops = new long[DropReasonCount];
    private readonly long[] _refusals = new long[Enum.GetValues<PeerDenial>().Length];

    public static IReadOnlyList<string> RouteNames { get; } = ["44", "46", "64", "66"];

    internal void CountRelayed(RelayDirection direction, IpFamily client, IpFamily peer, int bytes)
    {
        int index = Index(direction, client, peer);
        _packets[index]++;
        _bytes[index] += bytes;
    }

    internal void CountDrop(DropReason reason) => _drops[(int)reason]++;

    internal void CountPeerRefused(PeerDenial reason) => _refusals[(int)reason]++;

    /// <summary>Peers refused by the peer policy on any path (403s and dropped indications or peer datagrams).</summary>
    public long PeersRefused(PeerDenial reason) => Volatile.Read(ref _refusals[(int)reason]);

    public long Packets(RelayDirection direction, IpFamily client, IpFamily peer) => Volatile.Read(ref _packets[Index(direction, client, peer)]);

    public long Bytes(RelayDirection direction, IpFamily client, IpFamily peer) => Volatile.Read(ref _bytes[Index(direction, client, peer)]);

    public long Drops(DropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    public long TotalPackets()
    {
        long sum = 0;
        for (int i = 0; i < _packets.Length; i++)
        {
            sum += Volatile.Read(ref _packets[i]);
        }

        return sum;
    }

    public long TotalBytes()
    {
        long sum = 0;
        for (int i = 0; i < _bytes.Length; i++)
        {
            sum += Volatile.Read(ref _bytes[i]);
        }

        return sum;
    }

    /// <summary>"44", "46", "64" or "66".</summary>
    public static string RouteName(IpFamily client, IpFamily peer) => RouteNames[(client == IpFamily.V4 ? 0 : 2) + (peer == IpFamily.V4 ? 0 : 1)];

    private static int Index(RelayDirection direction, IpFamily client, IpFamily peer) =>
        ((int)direction * 4) + (client == IpFamily.V4 ? 0 : 2) + (peer == IpFamily.V4 ? 0 : 1);
}
