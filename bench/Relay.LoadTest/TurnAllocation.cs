using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Relay.Core.Auth;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.LoadTest;

/// <summary>A set-up step failed: printed as is, exit code 2.</summary>
internal sealed class SetupException(string message) : Exception(message);

/// <summary>
/// One TURN allocation over its own UDP socket (connected to the server): Allocate with the 401 challenge,
/// ChannelBind to the echo peer, and Refresh(0) at the end. Set-up is synchronous with retransmissions; the data
/// path (see <see cref="LoadRunner"/>) reuses <see cref="Socket"/>.
/// </summary>
internal sealed class TurnAllocation : IDisposable
{
    public const ushort Channel = 0x4000;
    private const int Attempts = 4;
    private const int AttemptTimeoutMs = 500;

    private readonly byte[] _buffer = new byte[2048];
    private readonly byte[] _response = new byte[65536];
    private readonly byte[] _tx = new byte[StunConstants.TransactionIdLength];
    private readonly IPEndPoint _server;
    private readonly string _username;
    private readonly string _password;
    private byte[]? _key;
    private byte[]? _realm;
    private byte[]? _nonce;

    /// <param name="source">Local address to bind to (spreads clients over source IPs); null lets the kernel choose.</param>
    public TurnAllocation(int index, IPEndPoint server, CredentialScheme credentials, string user, int socketBuffer, IPAddress? source = null)
    {
        Index = index;
        _server = server;
        long expiry = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3600;
        // Firezone allows one allocation per username, so every allocation gets its own salt there.
        string salt = credentials.Scheme == AuthScheme.Firezone ? user + index.ToString(CultureInfo.InvariantCulture) : user;
        MintedCredentials minted = credentials.Mint(salt, DateTimeOffset.FromUnixTimeSeconds(expiry), realm: string.Empty);
        _username = minted.Username;
        _password = minted.Password;
        Socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            Native.SetBuffers(Socket, socketBuffer);
            if (source is not null)
            {
                Socket.Bind(new IPEndPoint(source, 0));
            }

            Socket.Connect(server);
            LocalPort = ((IPEndPoint)Socket.LocalEndPoint!).Port;
        }
        catch
        {
            Socket.Dispose();
            throw;
        }
    }

    public int Index { get; }

    public Socket Socket { get; }

    public int LocalPort { get; }

    public string Username => _username;

    public TransportAddress Relayed { get; private set; }

    public TransportAddress Mapped { get; private set; }

    /// <summary>Allocate (401 challenge, then authenticated; 438 refreshes the nonce once).</summary>
    public void Allocate(IpFamily relayFamily)
    {
        using var _ = SetupTimeout();
        for (int round = 0; round < 3; round++)
        {
            bool authenticated = _nonce is not null;
            Span<byte> tx = _tx;
            RandomNumberGenerator.Fill(tx);
            var writer = new StunMessageWriter(_buffer, StunMethod.Allocate, StunClass.Request, tx);
            writer.AddAttribute(StunAttr.RequestedTransport, [StunConstants.TransportUdp, 0, 0, 0]);
            if (relayFamily == IpFamily.V6)
            {
                writer.AddAttribute(StunAttr.RequestedAddressFamily, [(byte)IpFamily.V6, 0, 0, 0]);
            }

            if (authenticated)
            {
                Sign(ref writer);
            }

            int length = Transact(writer.Written, tx, "Allocate");
            StunMessage response = Parse(length, "Allocate");
            if (response.Class == StunClass.SuccessResponse)
            {
                Relayed = ReadXor(response, StunAttr.XorRelayedAddress, "Allocate");
                Mapped = ReadXor(response, StunAttr.XorMappedAddress, "Allocate");
                return;
            }

            int code = ErrorCode(response);
            if ((code == StunErrors.Unauthenticated && !authenticated) || code == StunErrors.StaleNonce)
            {
                TakeChallenge(response, "Allocate", code);
                continue;
            }

            throw new SetupException($"allocation #{Index}: Allocate refused with {Describe(response)}" + Hint(code));
        }

        throw new SetupException($"allocation #{Index}: Allocate kept being challenged (wrong --secret or --auth-scheme?)");
    }

    /// <summary>ChannelBind <see cref="Channel"/> to <paramref name="peer"/> (438 refreshes the nonce once).</summary>
    public void BindChannel(TransportAddress peer)
    {
        using var _ = SetupTimeout();
        for (int round = 0; round < 2; round++)
        {
            Span<byte> tx = _tx;
            RandomNumberGenerator.Fill(tx);
            var writer = new StunMessageWriter(_buffer, StunMethod.ChannelBind, StunClass.Request, tx);
            writer.AddAttribute(StunAttr.ChannelNumber, [Channel >> 8, Channel & 0xFF, 0, 0]);
            writer.AddXorAddress(StunAttr.XorPeerAddress, peer);
            Sign(ref writer);
            int length = Transact(writer.Written, tx, "ChannelBind");
            StunMessage response = Parse(length, "ChannelBind");
            if (response.Class == StunClass.SuccessResponse)
            {
                return;
            }

            int code = ErrorCode(response);
            if (code == StunErrors.StaleNonce && round == 0)
            {
                TakeChallenge(response, "ChannelBind", code);
                continue;
            }

            throw new SetupException($"allocation #{Index}: ChannelBind 0x{Channel:X4} to {peer} refused with {Describe(response)}" + Hint(code));
        }
    }

    /// <summary>Best effort Refresh(LIFETIME 0) so the server frees the allocation now; false when it did not answer.</summary>
    public bool TryDeallocate()
    {
        if (_nonce is null)
        {
            return false;
        }

        try
        {
            using var _ = SetupTimeout();
            for (int round = 0; round < 2; round++)
            {
                Span<byte> tx = _tx;
                RandomNumberGenerator.Fill(tx);
                var writer = new StunMessageWriter(_buffer, StunMethod.Refresh, StunClass.Request, tx);
                writer.AddUInt32(StunAttr.Lifetime, 0);
                Sign(ref writer);
                int length = Transact(writer.Written, tx, "Refresh", attempts: 2);
                StunMessage response = Parse(length, "Refresh");
                if (response.Class == StunClass.SuccessResponse)
                {
                    return true;
                }

                if (ErrorCode(response) != StunErrors.StaleNonce)
                {
                    return false;
                }

                TakeChallenge(response, "Refresh", StunErrors.StaleNonce);
            }
        }
        catch (Exception exception) when (exception is SetupException or SocketException)
        {
        }

        return false;
    }

    public void Dispose() => Socket.Dispose();

    private void Sign(ref StunMessageWriter writer)
    {
        writer.AddString(StunAttr.Username, _username);
        writer.AddAttribute(StunAttr.Realm, _realm);
        writer.AddAttribute(StunAttr.Nonce, _nonce);
        writer.AddIntegrity(IntegrityKind.Sha1, _key);
        writer.AddFingerprint();
    }

    private void TakeChallenge(StunMessage response, string what, int code)
    {
        if (!response.TryGetAttribute(StunAttr.Nonce, out ReadOnlySpan<byte> nonce) || nonce.Length == 0)
        {
            throw new SetupException($"allocation #{Index}: {what} answered {code} without a NONCE");
        }

        _nonce = nonce.ToArray();
        if (response.TryGetAttribute(StunAttr.Realm, out ReadOnlySpan<byte> realm))
        {
            _realm = realm.ToArray();
        }

        if (_realm is null)
        {
            throw new SetupException($"allocation #{Index}: {what} answered {code} without a REALM");
        }

        _key = StunIntegrity.LongTermKey(_username, Encoding.UTF8.GetString(_realm), _password);
    }

    /// <summary>Sends <paramref name="request"/> and returns the length of the response with the same transaction id.</summary>
    private int Transact(ReadOnlySpan<byte> request, ReadOnlySpan<byte> tx, string what, int attempts = Attempts)
    {
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            try
            {
                Socket.Send(request);
            }
            catch (SocketException exception)
            {
                throw new SetupException($"allocation #{Index}: cannot send {what} to {_server}: {exception.Message}");
            }

            long deadline = Environment.TickCount64 + AttemptTimeoutMs;
            while (Environment.TickCount64 < deadline)
            {
                int length;
                try
                {
                    length = Socket.Receive(_response);
                }
                catch (SocketException exception) when (exception.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    break;
                }
                catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    throw new SetupException($"allocation #{Index}: {what}: {_server} refused the datagram (ICMP port unreachable): is the TURN server running there?");
                }

                if (length >= StunConstants.HeaderLength && _response.AsSpan(8, StunConstants.TransactionIdLength).SequenceEqual(tx))
                {
                    return length;
                }
            }
        }

        throw new SetupException($"allocation #{Index}: no answer to {what} from {_server} after {attempts} attempts of {AttemptTimeoutMs} ms");
    }

    private StunMessage Parse(int length, string what)
    {
        StunParseResult result = StunMessage.TryParse(_response.AsSpan(0, length), out StunMessage message);
        if (result != StunParseResult.Ok)
        {
            throw new SetupException($"allocation #{Index}: unparsable {what} response ({result})");
        }

        return message;
    }

    private TransportAddress ReadXor(StunMessage response, ushort type, string what)
    {
        if (!response.TryGetAttribute(type, out ReadOnlySpan<byte> value) || !XorAddress.TryDecode(value, response.Raw[..StunConstants.HeaderLength], out TransportAddress address))
        {
            throw new SetupException($"allocation #{Index}: {what} success without a valid attribute 0x{type:X4}");
        }

        return address;
    }

    private static int ErrorCode(StunMessage response) =>
        response.TryGetAttribute(StunAttr.ErrorCode, out ReadOnlySpan<byte> value) && value.Length >= 4 ? (value[2] & 7) * 100 + value[3] : 0;

    private static string Describe(StunMessage response)
    {
        if (!response.TryGetAttribute(StunAttr.ErrorCode, out ReadOnlySpan<byte> value) || value.Length < 4)
        {
            return $"class {response.Class} without ERROR-CODE";
        }

        return $"{(value[2] & 7) * 100 + value[3]} '{Encoding.UTF8.GetString(value[4..])}'";
    }

    private static string Hint(int code) => code switch
    {
        StunErrors.Unauthenticated => " (wrong --secret or --auth-scheme?)",
        StunErrors.Forbidden => " (does the server allow loopback peers? ours: --allow-loopback-peers; coturn: --allow-loopback-peers)",
        StunErrors.AllocationQuotaReached => " (user quota: run the relay with --user-quota 0)",
        StunErrors.AllocationMismatch => " (stale allocation on this 5-tuple)",
        StunErrors.InsufficientCapacity => " (no relay port left)",
        _ => string.Empty,
    };

    private TimeoutScope SetupTimeout() => new(Socket, AttemptTimeoutMs);

    /// <summary>Applies a receive timeout for the set-up exchange and restores the previous one.</summary>
    private readonly struct TimeoutScope : IDisposable
    {
        private readonly Socket _socket;
        private readonly int _previous;

        public TimeoutScope(Socket socket, int timeoutMs)
        {
            _socket = socket;
            _previous = socket.ReceiveTimeout;
            socket.ReceiveTimeout = timeoutMs;
        }

        public void Dispose() => _socket.ReceiveTimeout = _previous;
    }
}
