using System.Buffers.Binary;
using System.Text;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

// STUN demultiplexing, authentication and response building.
public sealed partial class RelayServer
{
    private const int MaxUsernameBytes = CredentialRules.MaxUsernameBytes;
    private const int MaxUnknownAttributes = 16;

    /// <summary>PASSWORD-ALGORITHMS as sent in every challenge: SHA-256 preferred, then MD5, no parameters.</summary>
    private static ReadOnlySpan<byte> OfferedPasswordAlgorithms => [0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

    /// <summary>A request being handled: the parsed message plus what authentication established.</summary>
    private ref struct Request
    {
        public StunMessage Message;
        public ClientSocket Client;
        public Instant Now;
        public StunMethod Method;

        /// <summary>Set once authenticated: responses then carry MESSAGE-INTEGRITY with this key.</summary>
        public byte[]? Key;
        public IntegrityKind Kind;
        public string? Username;
    }

    private ClientRoute HandleStun(ReadOnlySpan<byte> datagram, ClientSocket from, Instant now)
    {
        switch (StunMessage.TryParse(datagram, out StunMessage message))
        {
            case StunParseResult.NotStun:
                Counters.CountDrop(DropReason.NotTurn);
                return ClientRoute.None;
            case StunParseResult.BadFingerprint:
                Counters.CountDrop(DropReason.BadFingerprint);
                return ClientRoute.None;
            case StunParseResult.Malformed:
                RespondToMalformed(datagram, from, now);
                return ClientRoute.None;
        }

        switch (message.Class)
        {
            case StunClass.Request:
                HandleRequest(message, from, now);
                return ClientRoute.None;
            case StunClass.Indication when message.Method == (ushort)StunMethod.Send:
                return HandleSendIndication(message, from, now);
            case StunClass.Indication when message.Method == (ushort)StunMethod.Binding:
                return ClientRoute.None; // a keepalive: nothing to do
            default:
                Counters.CountDrop(DropReason.UnexpectedStunClass);
                return ClientRoute.None;
        }
    }

    /// <summary>A request whose header is valid but whose attributes are not gets 400; anything else is dropped.</summary>
    private void RespondToMalformed(ReadOnlySpan<byte> datagram, ClientSocket from, Instant now)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(datagram);
        if (StunMessageType.Class(type) != StunClass.Request)
        {
            Counters.CountDrop(DropReason.MalformedStun);
            return;
        }

        if (Throttled(from, now))
        {
            return;
        }

        ushort method = StunMessageType.Method(type);
        var writer = new StunMessageWriter(_scratch, StunMessageType.Encode(method, StunClass.ErrorResponse), datagram.Slice(8, 12));
        writer.AddErrorCode(StunErrors.BadRequest, StunErrors.Reason(StunErrors.BadRequest));
        Enqueue(new SendToClient(from, writer.Written.ToArray(), (StunMethod)method, StunErrors.BadRequest));
    }

    private void HandleRequest(StunMessage message, ClientSocket from, Instant now)
    {
        var request = new Request { Message = message, Client = from, Now = now, Method = (StunMethod)message.Method };
        switch (request.Method)
        {
            case StunMethod.Binding:
                if (!RejectUnknownAttributes(ref request))
                {
                    HandleBinding(ref request);
                }

                break;
            case StunMethod.Allocate:
                HandleAllocate(ref request);
                break;
            case StunMethod.Refresh:
                HandleRefresh(ref request);
                break;
            case StunMethod.CreatePermission:
                HandleCreatePermission(ref request);
                break;
            case StunMethod.ChannelBind:
                HandleChannelBind(ref request);
                break;
            default:
                RespondError(ref request, StunErrors.BadRequest);
                break;
        }
    }

    /// <summary>
    /// 420 with UNKNOWN-ATTRIBUTES when the request has comprehension-required attributes the relay does not know.
    /// Authenticated methods check this only after MESSAGE-INTEGRITY verifies (RFC 8489 §6.3), so an
    /// unauthenticated request learns nothing but the challenge.
    /// </summary>
    private bool RejectUnknownAttributes(ref Request request)
    {
        Span<ushort> unknown = stackalloc ushort[MaxUnknownAttributes];
        int unknownCount = CollectUnknownComprehensionRequired(request.Message, unknown);
        if (unknownCount == 0)
        {
            return false;
        }

        if (request.Key is null && Throttled(request.Client, request.Now))
        {
            return true;
        }

        var writer = BeginResponse(request, StunClass.ErrorResponse);
        writer.AddErrorCode(StunErrors.UnknownAttribute, StunErrors.Reason(StunErrors.UnknownAttribute));
        writer.AddUnknownAttributes(unknown[..unknownCount]);
        Send(ref request, ref writer, StunErrors.UnknownAttribute);
        return true;
    }

    private static int CollectUnknownComprehensionRequired(in StunMessage message, Span<ushort> unknown)
    {
        int count = 0;
        foreach (StunAttribute attribute in message.Attributes)
        {
            if (StunAttr.IsComprehensionRequired(attribute.Type) && !StunAttr.IsKnownComprehensionRequired(attribute.Type)
                && count < unknown.Length && !unknown[..count].Contains(attribute.Type))
            {
                unknown[count++] = attribute.Type;
            }
        }

        return count;
    }

    private void HandleBinding(ref Request request)
    {
        var writer = BeginResponse(request, StunClass.SuccessResponse);
        writer.AddXorAddress(StunAttr.XorMappedAddress, request.Client.Address);
        Send(ref request, ref writer, 0);
    }

    /// <summary>
    /// Long-term credential check (RFC 8489 §9.2.4). On failure the error response is already queued and false is
    /// returned. On success <see cref="Request.Key"/> is set, so every later response is integrity-protected.
    /// </summary>
    private bool Authenticate(ref Request request)
    {
        StunMessage message = request.Message;
        if (!message.HasIntegrity)
        {
            Challenge(ref request, StunErrors.Unauthenticated, null, null); // the first step of every login
            return false;
        }

        if (!message.TryGetAttribute(StunAttr.Username, out ReadOnlySpan<byte> usernameBytes)
            || !message.TryGetAttribute(StunAttr.Realm, out ReadOnlySpan<byte> realmBytes)
            || !message.TryGetAttribute(StunAttr.Nonce, out ReadOnlySpan<byte> nonce)
            || usernameBytes.Length is 0 or > MaxUsernameBytes)
        {
            Emit(new AuthenticationFailed(request.Client, request.Method, AuthFailure.MissingAttributes, null));
            RespondError(ref request, StunErrors.BadRequest);
            return false;
        }

        NonceVerdict verdict = _nonces.Verify(nonce, request.Client, request.Now);
        if (verdict != NonceVerdict.Valid)
        {
            var failure = verdict == NonceVerdict.Stale ? AuthFailure.StaleNonce : AuthFailure.InvalidNonce;
            Challenge(ref request, StunErrors.StaleNonce, failure, null);
            return false;
        }

        string username = Encoding.UTF8.GetString(usernameBytes);
        if (!realmBytes.SequenceEqual(_realmBytes))
        {
            Challenge(ref request, StunErrors.Unauthenticated, AuthFailure.WrongPassword, username);
            return false;
        }

        CredentialFailure credentialFailure = _credentials.TryGetPassword(username, request.Now, out string password);
        if (credentialFailure != CredentialFailure.None)
        {
            var failure = credentialFailure == CredentialFailure.Expired ? AuthFailure.ExpiredUsername : AuthFailure.InvalidUsername;
            Challenge(ref request, StunErrors.Unauthenticated, failure, username);
            return false;
        }

        if (!TrySelectPasswordAlgorithm(message, out PasswordAlgorithm algorithm))
        {
            Emit(new AuthenticationFailed(request.Client, request.Method, AuthFailure.MissingAttributes, username));
            RespondError(ref request, StunErrors.BadRequest);
            return false;
        }

        byte[] key = StunIntegrity.LongTermKey(username, _options.Realm, password, algorithm);
        if (!StunIntegrity.Verify(message, key, out IntegrityKind kind))
        {
            Challenge(ref request, StunErrors.Unauthenticated, AuthFailure.WrongPassword, username);
            return false;
        }

        request.Key = key;
        request.Kind = kind;
        request.Username = username;
        return !RejectUnknownAttributes(ref request);
    }

    /// <summary>
    /// RFC 8489 §9.2.4 for a nonce whose cookie offers password algorithms (every nonce this relay issues): a request
    /// with neither PASSWORD-ALGORITHMS nor PASSWORD-ALGORITHM is an RFC 5389 client and uses MD5; otherwise both must
    /// be present, PASSWORD-ALGORITHMS must be exactly the list the relay sent (bid-down protection: the list is
    /// covered by MESSAGE-INTEGRITY, so a list an attacker trimmed in the 401 no longer matches), and
    /// PASSWORD-ALGORITHM must be one of it. Anything else is 400.
    /// </summary>
    private static bool TrySelectPasswordAlgorithm(in StunMessage message, out PasswordAlgorithm algorithm)
    {
        algorithm = PasswordAlgorithm.Md5;
        bool hasList = message.TryGetAttribute(StunAttr.PasswordAlgorithms, out ReadOnlySpan<byte> list);
        bool hasChoice = message.TryGetAttribute(StunAttr.PasswordAlgorithm, out ReadOnlySpan<byte> choice);
        if (!hasList && !hasChoice)
        {
            return true;
        }

        if (!hasList || !hasChoice || !list.SequenceEqual(OfferedPasswordAlgorithms) || choice.Length != 4
            || BinaryPrimitives.ReadUInt16BigEndian(choice[2..]) != 0)
        {
            return false;
        }

        ushort value = BinaryPrimitives.ReadUInt16BigEndian(choice);
        if (value is not ((ushort)PasswordAlgorithm.Md5 or (ushort)PasswordAlgorithm.Sha256))
        {
            return false;
        }

        algorithm = (PasswordAlgorithm)value;
        return true;
    }

    /// <summary>401 or 438 with REALM and a fresh NONCE, without MESSAGE-INTEGRITY (the client has no valid key yet).</summary>
    private void Challenge(ref Request request, int code, AuthFailure? failure, string? username)
    {
        if (failure is { } reason)
        {
            Emit(new AuthenticationFailed(request.Client, request.Method, reason, username));
        }

        request.Key = null;
        if (Throttled(request.Client, request.Now))
        {
            return; // before the nonce's HMAC: a flood costs a table lookup
        }

        var writer = BeginResponse(request, StunClass.ErrorResponse);
        writer.AddErrorCode(code, StunErrors.Reason(code));
        writer.AddString(StunAttr.Realm, _options.Realm);
        writer.AddString(StunAttr.Nonce, _nonces.Issue(request.Client, request.Now));
        writer.AddAttribute(StunAttr.PasswordAlgorithms, OfferedPasswordAlgorithms); // required by the nonce cookie's feature bit
        Send(ref request, ref writer, code);
    }

    /// <summary>
    /// Starts a response. SOFTWARE goes only into authenticated ones: an unauthenticated client gets what the RFC
    /// requires and nothing more (no fingerprinting, no amplification for a spoofed source).
    /// </summary>
    /// <summary>
    /// Whether an error response to an unauthenticated request from <paramref name="client"/> must be withheld: such
    /// responses are larger than the requests that cause them, so without a limit a spoofed source makes the relay
    /// an amplifier. Authenticated responses are never limited.
    /// </summary>
    private bool Throttled(ClientSocket client, Instant now)
    {
        if (_unauthenticated.TryAcquire(client.Address.Address, now))
        {
            return false;
        }

        Counters.CountDrop(DropReason.UnauthenticatedRateLimited);
        return true;
    }

    private StunMessageWriter BeginResponse(scoped in Request request, StunClass cls)
    {
        var writer = new StunMessageWriter(_scratch, StunMessageType.Encode(request.Message.Method, cls), request.Message.TransactionId);
        if (request.Key is not null)
        {
            AddSoftware(ref writer);
        }

        return writer;
    }

    private void AddSoftware(ref StunMessageWriter writer)
    {
        if (_options.Software is { } software)
        {
            writer.AddString(StunAttr.Software, software);
        }
    }

    /// <summary>Adds MESSAGE-INTEGRITY (when authenticated) and FINGERPRINT (when the request had one); returns the bytes.</summary>
    private static byte[] Finish(ref Request request, scoped ref StunMessageWriter writer)
    {
        if (request.Key is not null)
        {
            writer.AddIntegrity(request.Kind, request.Key);
        }

        if (request.Message.HasFingerprint)
        {
            writer.AddFingerprint();
        }

        return writer.Written.ToArray();
    }

    private void Send(ref Request request, scoped ref StunMessageWriter writer, int errorCode) =>
        Enqueue(new SendToClient(request.Client, Finish(ref request, ref writer), request.Method, errorCode));

    private void RespondError(ref Request request, int code)
    {
        if (request.Key is null && Throttled(request.Client, request.Now))
        {
            return;
        }

        var writer = BeginResponse(request, StunClass.ErrorResponse);
        writer.AddErrorCode(code, StunErrors.Reason(code));
        Send(ref request, ref writer, code);
    }

    /// <summary>
    /// The common checks of Refresh, CreatePermission and ChannelBind: authenticated, an allocation on this 5-tuple
    /// (437), created by the same user (441, RFC 8656 §5).
    /// </summary>
    private Allocation? AuthenticateForAllocation(ref Request request)
    {
        if (!Authenticate(ref request))
        {
            return null;
        }

        if (!_allocationsByClient.TryGetValue(request.Client, out Allocation? allocation))
        {
            Emit(new RequestRejected(request.Client, request.Method, StunErrors.AllocationMismatch, Rejection.NoAllocation, request.Username ?? string.Empty));
            RespondError(ref request, StunErrors.AllocationMismatch);
            return null;
        }

        if (allocation.Username != request.Username)
        {
            Emit(new AuthenticationFailed(request.Client, request.Method, AuthFailure.WrongUser, request.Username));
            RespondError(ref request, StunErrors.WrongCredentials);
            return null;
        }

        return allocation;
    }

    private static bool TryReadXorAddress(in StunMessage message, ReadOnlySpan<byte> value, out TransportAddress address) =>
        XorAddress.TryDecode(value, message.Raw[..StunConstants.HeaderLength], out address);
}
