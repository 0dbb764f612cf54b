using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;

namespace Relay.Core.Server;

/// <summary>Control-plane happenings the host may log or count. Never raised per relayed packet.</summary>
public abstract record RelayEvent;

public sealed record AllocationCreated(AllocationId Id, ClientSocket Client, string Username, AllocationPort Port, bool V4, bool V6, TimeSpan Lifetime) : RelayEvent;

public sealed record AllocationRefreshed(AllocationId Id, ClientSocket Client, TimeSpan Lifetime) : RelayEvent;

public enum DeletionReason
{
    Expired,
    RefreshedToZero,
    Evicted,
    ReplacedBySameUser,
    BindFailed,
}

public sealed record AllocationDeleted(AllocationId Id, ClientSocket Client, AllocationPort Port, DeletionReason Reason) : RelayEvent;

public sealed record ChannelBound(AllocationId Id, ClientSocket Client, ChannelNumber Channel, PeerSocket Peer, bool Refresh) : RelayEvent;

public sealed record ChannelExpired(AllocationId Id, ClientSocket Client, ChannelNumber Channel, PeerSocket Peer) : RelayEvent;

public sealed record PermissionCreated(AllocationId Id, IpAddr Peer) : RelayEvent;

/// <summary>
/// Why a request failed authentication. The first request of a login, without credentials, is not a failure: its 401
/// is the challenge that gives the client a nonce.
/// </summary>
public enum AuthFailure
{
    MissingAttributes,
    StaleNonce,
    InvalidNonce,
    InvalidUsername,
    ExpiredUsername,
    WrongPassword,
    WrongUser,
}

public sealed record AuthenticationFailed(ClientSocket Client, StunMethod Method, AuthFailure Reason, string? Username) : RelayEvent;

public sealed record PeerRefused(ClientSocket Client, TransportAddress Peer, PeerDenial Reason) : RelayEvent;

/// <summary>Why an authenticated request was refused, for the rejections an operator needs to see.</summary>
public enum Rejection
{
    /// <summary>ChannelBind with a number outside the accepted range (400).</summary>
    ChannelNumberOutOfRange,

    /// <summary>Allocate from a client that already has an allocation (437).</summary>
    AllocationExists,

    /// <summary>Refresh, CreatePermission or ChannelBind from a client without an allocation (437).</summary>
    NoAllocation,
}

public sealed record RequestRejected(ClientSocket Client, StunMethod Method, int ErrorCode, Rejection Reason, string Detail) : RelayEvent;

public sealed record AllocationPortBindFailed(AllocationPort Port, IpFamily Family, bool Retried) : RelayEvent;

public sealed record PortsExhausted(ClientSocket Client) : RelayEvent;

/// <summary>Receives engine events. Implementations must be cheap and must not call back into the engine.</summary>
public interface IRelayObserver
{
    void OnEvent(RelayEvent relayEvent);
}
