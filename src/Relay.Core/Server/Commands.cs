using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.Core.Server;

/// <summary>
/// What the engine asks the host to do, taken one at a time with <see cref="RelayServer.PollCommand"/> and executed
/// in order. Order matters: <see cref="AddChannelBinding"/> precedes the ChannelBind success it belongs to (so a fast
/// path is ready before the client sends), and every <see cref="RemoveChannelBinding"/> of an allocation precedes
/// its <see cref="FreeAllocation"/>.
/// </summary>
public abstract record RelayCommand;

/// <summary>
/// Send <paramref name="Payload"/> to the client from the listening socket of the client's family.
/// <paramref name="Method"/> and <paramref name="ErrorCode"/> (0 for success) describe the response for metrics.
/// </summary>
public sealed record SendToClient(ClientSocket Client, byte[] Payload, StunMethod Method, int ErrorCode) : RelayCommand
{
    public bool IsError => ErrorCode != 0;
}

/// <summary>
/// Bind a UDP socket on the relay port for this family. If the bind fails the host must call
/// <see cref="RelayServer.AllocationBindFailed"/> before it polls the next command; the engine then withdraws the
/// response and retries on another port.
/// </summary>
public sealed record CreateAllocation(AllocationPort Port, IpFamily Family, bool DontFragment) : RelayCommand;

/// <summary>Close the socket on the relay port for this family.</summary>
public sealed record FreeAllocation(AllocationPort Port, IpFamily Family) : RelayCommand;

/// <summary>A channel became bound: install the fast-path entries for both directions.</summary>
public sealed record AddChannelBinding(ClientSocket Client, ChannelNumber Channel, PeerSocket Peer, AllocationPort Port) : RelayCommand;

/// <summary>A channel stopped relaying (expired, or its allocation went away): remove the fast-path entries.</summary>
public sealed record RemoveChannelBinding(ClientSocket Client, ChannelNumber Channel, PeerSocket Peer, AllocationPort Port) : RelayCommand;
