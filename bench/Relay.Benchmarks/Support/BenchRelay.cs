using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Randomness;
using Relay.Core.Server;
using Relay.Core.Time;

namespace Relay.Benchmarks.Support;

/// <summary>The relay every benchmark talks to: Firezone credentials, IPv4 only, production randomness.</summary>
internal static class BenchRelay
{
    public const string Secret = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";

    /// <summary>
    /// The one instant every benchmark uses, so nonces (600 s), permissions (300 s) and channels (600 s) never expire
    /// while it runs and no timer ever fires inside a measured method.
    /// </summary>
    public static readonly Instant Now = Instant.FromUnixSeconds(1_700_000_000);

    public static readonly ClientSocket ClientA = ClientSocket.Parse("198.51.100.10:50000");
    public static readonly ClientSocket ClientB = ClientSocket.Parse("198.51.100.10:50001");
    public static readonly ClientSocket ClientC = ClientSocket.Parse("198.51.100.11:50002");

    /// <summary>The peer the client binds a channel to.</summary>
    public static readonly PeerSocket ChannelPeer = PeerSocket.Parse("192.0.2.50:5000");

    /// <summary>A peer with a permission (CreatePermission) but no channel: it gets Data indications.</summary>
    public static readonly PeerSocket PermittedPeer = PeerSocket.Parse("192.0.2.60:6000");

    public const ushort Channel = 0x4000;

    public const int PayloadLength = 100;

    public static RelayServerOptions Options() => new()
    {
        PublicIPv4 = IpAddr.Parse("203.0.113.1"),
        RelaySecret = Secret,
        Peers = new PeerPolicyOptions { Allowed = [IpNetwork.Parse("192.0.2.0/24")] }, // the peers above; refused by default
    };

    /// <summary>No observer: the host's logging is not the engine's cost. Events are still constructed.</summary>
    public static RelayServer Create() => new(Options(), new SecureRandomSource());

    /// <summary>Takes every queued command; returns how many there were.</summary>
    public static int Drain(RelayServer server)
    {
        int count = 0;
        while (server.PollCommand() is not null)
        {
            count++;
        }

        return count;
    }

    public static byte[] Payload()
    {
        var payload = new byte[PayloadLength];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(i * 7);
        }

        return payload;
    }
}
