using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Randomness;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Time;

using Relay.TestSupport;

namespace Relay.Core.Tests.Support;

/// <summary>
/// A <see cref="RelayServer"/> with a fake clock, seeded randomness and a recorded command stream. Tests talk to
/// it through <see cref="TestClient"/>s.
/// </summary>
public sealed class TestRelay : IRelayObserver
{
    public const string Secret = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
    public static readonly Instant Start = Instant.FromUnixSeconds(1_700_000_000);

    public TestRelay(RelayServerOptions? options = null, ulong seed = 7)
    {
        Options = options ?? DefaultOptions();
        Server = new RelayServer(Options, new SeededRandom(seed), this);
        Now = Start;
    }

    /// <summary>The blocks the tests' peers live in (192.0.2/24, 198.51.100/24, 2001:db8::/32).</summary>
    public static readonly IReadOnlyList<IpNetwork> TestPeers =
        [IpNetwork.Parse("192.0.2.0/24"), IpNetwork.Parse("198.51.100.0/24"), IpNetwork.Parse("2001:db8::/32")];

    public static RelayServerOptions DefaultOptions(
        AuthScheme scheme = AuthScheme.Firezone,
        bool v4 = true,
        bool v6 = false,
        ushort lowest = 49152,
        ushort highest = 65535,
        ChannelNumberRange channels = ChannelNumberRange.Rfc8656,
        bool allowLoopback = false,
        int perUser = 100,
        long maxBps = 0) => new()
    {
        PublicIPv4 = v4 ? IpAddr.Parse("203.0.113.1") : null,
        PublicIPv6 = v6 ? IpAddr.Parse("2001:db8::1") : null,
        LowestPort = lowest,
        HighestPort = highest,
        AuthScheme = scheme,
        RelaySecret = Secret,
        ChannelNumbers = channels,
        // The tests' peers are in the documentation blocks, which the relay refuses by default: allow them explicitly.
        Peers = new PeerPolicyOptions { AllowLoopback = allowLoopback, Allowed = TestPeers },
        MaxAllocationsPerUser = perUser,
        MaxBytesPerSecondPerAllocation = maxBps,
    };

    public RelayServerOptions Options { get; }

    public RelayServer Server { get; }

    public Instant Now { get; set; }

    public List<RelayEvent> Events { get; } = new();

    /// <summary>Every command taken so far, in order.</summary>
    public List<RelayCommand> History { get; } = new();

    /// <summary>Ports the host currently holds bound, per family, as a real host would track them.</summary>
    public HashSet<(ushort Port, IpFamily Family)> BoundSockets { get; } = new();

    /// <summary>Fast-path entries (as the XDP maps would hold them).</summary>
    public HashSet<(ClientSocket, ushort)> FastPath { get; } = new();

    /// <summary>Bind failures to inject: the next CreateAllocation for a listed (port, family) fails.</summary>
    public HashSet<(ushort, IpFamily)> FailBinds { get; } = new();

    public void OnEvent(RelayEvent relayEvent) => Events.Add(relayEvent);

    /// <summary>Takes every queued command, applying them to <see cref="BoundSockets"/>/<see cref="FastPath"/> and asserting the host-side invariants.</summary>
    public List<RelayCommand> Drain()
    {
        var taken = new List<RelayCommand>();
        while (Server.PollCommand() is { } command)
        {
            taken.Add(command);
            History.Add(command);
            switch (command)
            {
                case CreateAllocation create:
                    if (FailBinds.Remove((create.Port.Value, create.Family)))
                    {
                        Server.AllocationBindFailed(create.Port, create.Family, Now);
                        break;
                    }

                    Assert.True(BoundSockets.Add((create.Port.Value, create.Family)), $"port {create.Port} {create.Family} bound twice");
                    break;
                case FreeAllocation free:
                    BoundSockets.Remove((free.Port.Value, free.Family));
                    break;
                case AddChannelBinding add:
                    Assert.True(FastPath.Add((add.Client, add.Channel.Value)), $"channel {add.Channel} of {add.Client} added twice");
                    break;
                case RemoveChannelBinding remove:
                    Assert.True(FastPath.Remove((remove.Client, remove.Channel.Value)), $"channel {remove.Channel} of {remove.Client} removed but not present");
                    break;
            }
        }

        return taken;
    }

    /// <summary>Sends a datagram as a client and returns the single response (asserting there is exactly one).</summary>
    public ParsedMessage Exchange(ClientSocket from, byte[] datagram)
    {
        var route = Server.HandleClientInput(datagram, from, Now);
        Assert.False(route.ShouldRelay);
        var responses = Drain().OfType<SendToClient>().ToList();
        Assert.Single(responses);
        Assert.Equal(from, responses[0].Client);
        return Msg.Parse(responses[0].Payload);
    }

    /// <summary>Sends a datagram and asserts nothing is answered.</summary>
    public void SendSilently(ClientSocket from, byte[] datagram)
    {
        Server.HandleClientInput(datagram, from, Now);
        Assert.Empty(Drain().OfType<SendToClient>());
    }

    public void Advance(TimeSpan span)
    {
        Now += span;
        Server.HandleTimeout(Now);
    }

    /// <summary>Runs the clock forward, waking the engine exactly when it asked to be woken.</summary>
    public void AdvanceTo(Instant target)
    {
        while (Server.PollTimeout() is { } wake && wake <= target)
        {
            Now = Instant.Max(Now, wake);
            Server.HandleTimeout(Now);
        }

        Now = target;
        Server.HandleTimeout(Now);
    }

    /// <summary>Delivers a peer datagram; returns the route and the bytes the host would send.</summary>
    public (PeerRoute Route, byte[] Sent) FromPeer(PeerSocket peer, AllocationPort port, byte[] payload)
    {
        var buffer = new byte[RelayServer.PeerHeadroom + payload.Length + RelayServer.PeerTailroom];
        payload.CopyTo(buffer, RelayServer.PeerHeadroom);
        var route = Server.HandlePeerInput(buffer, RelayServer.PeerHeadroom, payload.Length, peer, port, Now);
        return (route, route.ShouldSend ? buffer.AsSpan(route.Offset, route.Length).ToArray() : []);
    }

    public TestClient Client(string address, string salt = "n23JJ2wKKtt30oXi", long? expiry = null) =>
        new(this, ClientSocket.Parse(address), salt, expiry ?? Now.UnixSeconds + 30 * 86400);
}
