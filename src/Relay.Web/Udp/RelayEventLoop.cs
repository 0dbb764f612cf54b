using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Relay.Core.FastPath;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Core.Stun;
using Relay.Core.Time;
using Relay.Web.Metrics;
using Relay.Web.Udp.Native;

namespace Relay.Web.Udp;

/// <summary>
/// The data plane: one dedicated thread that owns the engine, every UDP socket and one epoll set. Each round it
/// waits for readiness (or the engine's next deadline), reads at most <see cref="PerSocketBudget"/> datagrams from
/// each ready socket with one recvmmsg (so a busy allocation cannot starve the others: epoll is level-triggered
/// and unread datagrams are simply served next round), routes them through the engine and sends with sendto.
/// Other threads reach the engine only through <see cref="InvokeAsync{T}"/>. Nothing here allocates per packet.
/// The fast path (XDP, when enabled) learns live ports and channel bindings here, in the engine's command order.
/// </summary>
internal sealed partial class RelayEventLoop : IDisposable
{
    private const ulong WakeToken = 0;
    private const ulong ListenKind = 1UL << 32;
    private const ulong AllocationKind = 2UL << 32;
    private const int PerSocketBudget = 32;
    private const int MaxWaitMs = 1000;

    private readonly RelayServer _engine;
    private readonly IFastPath _fastPath;
    private readonly RelayMetrics _metrics;
    private readonly RelayClock _clock;
    private readonly ILogger _logger;
    private readonly IPAddress _bindV4;
    private readonly IPAddress _bindV6;
    private readonly UdpSocket? _listenV4;
    private readonly UdpSocket? _listenV6;
    private readonly UdpSocket?[] _allocationsV4 = new UdpSocket?[65536];
    private readonly UdpSocket?[] _allocationsV6 = new UdpSocket?[65536];
    private readonly Epoll _epoll = new(256, WakeToken);
    private readonly ReceiveBatch _batch = new(PerSocketBudget);
    private readonly SendBatch _sends = new(PerSocketBudget);
    private readonly ConcurrentQueue<Action> _work = new();
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _disposed;
    private int _allocationSockets;
    private long _sendErrors;
    private long _loopErrors;

    public RelayEventLoop(RelayServer engine, IFastPath fastPath, RelayMetrics metrics, RelayClock clock, UdpSocket? listenV4, UdpSocket? listenV6,
        IPAddress bindV4, IPAddress bindV6, ILogger logger)
    {
        _engine = engine;
        _fastPath = fastPath;
        _metrics = metrics;
        _clock = clock;
        _listenV4 = listenV4;
        _listenV6 = listenV6;
        _bindV4 = bindV4;
        _bindV6 = bindV6;
        _logger = logger;
        if (listenV4 is not null)
        {
            _epoll.Add(listenV4.Fd, ListenKind | ((ulong)IpFamily.V4 << 16) | listenV4.Port);
        }

        if (listenV6 is not null)
        {
            _epoll.Add(listenV6.Fd, ListenKind | ((ulong)IpFamily.V6 << 16) | listenV6.Port);
        }

        _thread = new Thread(Run) { Name = "relay-udp", IsBackground = true };
    }

    public RelayServer Engine => _engine;

    public IFastPath FastPath => _fastPath;

    public int AllocationSocketCount => Volatile.Read(ref _allocationSockets);

    /// <summary>Datagrams the kernel refused to send (full send buffer, unreachable peer...).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors) + _sends.Failures;

    /// <summary>Datagrams that left in a UDP GSO group rather than one by one.</summary>
    public long CoalescedDatagrams => _sends.Coalesced;

    public bool IsRunning => _thread.IsAlive && !_stopping;

    public void Start() => _thread.Start();

    /// <summary>Runs <paramref name="action"/> on the data-plane thread (the engine is single-threaded).</summary>
    public Task<T> InvokeAsync<T>(Func<RelayServer, Instant, T> action)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_stopping)
        {
            completion.SetException(new InvalidOperationException("The relay is shutting down."));
            return completion.Task;
        }

        _work.Enqueue(() =>
        {
            try
            {
                completion.SetResult(action(_engine, _clock.Now()));
            }
            catch (Exception exception)
            {
                completion.SetException(exception);
            }
        });
        _epoll.Wake();
        return completion.Task;
    }

    /// <summary>Stops the thread; returns false if it did not exit in time (its memory must then not be freed).</summary>
    public bool Stop()
    {
        _stopping = true;
        _epoll.Wake();
        bool exited = !_thread.IsAlive || Thread.CurrentThread == _thread || _thread.Join(TimeSpan.FromSeconds(10));

        while (exited && _work.TryDequeue(out Action? pending))
        {
            pending(); // completes with the engine's answer; nothing else runs any more
        }

        return exited;
    }

    private void Run()
    {
        LogLoopStarted(_logger, _listenV4?.Port ?? _listenV6?.Port ?? 0);
        while (!_stopping)
        {
            try
            {
                RunOnce();
            }
            catch (Exception exception)
            {
                // A bug must not take the relay down: log (rate-limited by count) and keep serving. Queued sends
                // point into receive buffers the next round overwrites, so they are dropped, not sent.
                _sends.Discard();
                long errors = Interlocked.Increment(ref _loopErrors);
                if (errors <= 10 || errors % 1000 == 0)
                {
                    LogLoopError(_logger, errors, exception);
                }
            }
        }
    }

    private void RunOnce()
    {
        int ready = _epoll.Wait(WaitMilliseconds());
        Instant now = _clock.Now();
        for (int i = 0; i < ready; i++)
        {
            ulong token = _epoll.TokenAt(i);
            ulong kind = token & ~0xFFFF_FFFFUL;
            var family = (IpFamily)((token >> 16) & 0xFF);
            ushort port = (ushort)token;
            if (kind == WakeToken)
            {
                _epoll.ClearWake();
            }
            else if (kind == ListenKind)
            {
                ReadFromClients(family == IpFamily.V4 ? _listenV4! : _listenV6!, now);
            }
            else if ((family == IpFamily.V4 ? _allocationsV4[port] : _allocationsV6[port]) is { } socket)
            {
                ReadFromPeers(socket, port, now);
            }
        }

        while (_work.TryDequeue(out Action? action))
        {
            action();
        }

        now = _clock.Now();
        if (_engine.PollTimeout() is { } deadline && deadline <= now)
        {
            _engine.HandleTimeout(now);
        }

        ExecuteCommands(now);
    }

    private int WaitMilliseconds()
    {
        if (!_work.IsEmpty)
        {
            return 0;
        }

        if (_engine.PollTimeout() is not { } deadline)
        {
            return MaxWaitMs;
        }

        long ms = deadline.UnixMilliseconds - _clock.Now().UnixMilliseconds;
        return (int)Math.Clamp(ms, 0, MaxWaitMs);
    }

    private void ReadFromClients(UdpSocket listen, Instant now)
    {
        int count = _batch.Receive(listen.Fd, PerSocketBudget);
        for (int i = 0; i < count; i++)
        {
            if (!_batch.TrySource(i, out TransportAddress source) || _batch.Truncated(i))
            {
                continue;
            }

            Span<byte> datagram = _batch.Slot(i).Slice(ReceiveBatch.Headroom, _batch.Length(i));
            if (datagram.Length >= StunConstants.HeaderLength && datagram[0] < 4 && RelayMetrics.Tracing.HasListeners())
            {
                TraceRequest(datagram, source, now); // control plane only: a STUN message with someone listening
                continue;
            }

            ClientRoute route = _engine.HandleClientInput(datagram, new ClientSocket(source), now);
            if (route.ShouldRelay)
            {
                QueueToPeer(datagram, route);
            }
        }

        _sends.Flush();
        ExecuteCommands(now);
    }

    private void ReadFromPeers(UdpSocket socket, ushort port, Instant now)
    {
        int count = _batch.Receive(socket.Fd, PerSocketBudget);
        for (int i = 0; i < count; i++)
        {
            if (!_batch.TrySource(i, out TransportAddress source) || _batch.Truncated(i))
            {
                continue;
            }

            Span<byte> slot = _batch.Slot(i);
            int length = _batch.Length(i);
            PeerRoute route = _engine.HandlePeerInput(slot, ReceiveBatch.Headroom, length, new PeerSocket(source), new AllocationPort(port), now);
            if (route.ShouldSend)
            {
                UdpSocket? listen = route.Client.Family == IpFamily.V4 ? _listenV4 : _listenV6;
                if (listen is null)
                {
                    _sendErrors++;
                    continue;
                }

                _sends.Add(listen.Fd, slot.Slice(route.Offset, route.Length), route.Client.Address);
                _metrics.PacketSize(length);
            }
        }

        _sends.Flush();
    }

    /// <summary>Handles one STUN message inside a span (Allocate, ChannelBind...) tagged with its outcome.</summary>
    private void TraceRequest(Span<byte> datagram, TransportAddress source, Instant now)
    {
        var method = (StunMethod)StunMessageType.Method((ushort)((datagram[0] << 8) | datagram[1]));
        using Activity? activity = RelayMetrics.Tracing.StartActivity("turn " + method.ToString().ToLowerInvariant(), ActivityKind.Server);
        activity?.SetTag("stun.method", method.ToString()).SetTag("network.peer.family", source.Family == IpFamily.V4 ? "ipv4" : "ipv6");
        ClientRoute route = _engine.HandleClientInput(datagram, new ClientSocket(source), now);
        if (route.ShouldRelay) // a Send indication
        {
            QueueToPeer(datagram, route);
        }

        ExecuteCommands(now, activity); // flushes the queued send first
    }

    /// <summary>Queues the routed payload on the allocation's socket of the peer's family.</summary>
    private void QueueToPeer(Span<byte> datagram, in ClientRoute route)
    {
        UdpSocket? relay = route.Peer.Family == IpFamily.V4 ? _allocationsV4[route.Port.Value] : _allocationsV6[route.Port.Value];
        if (relay is null)
        {
            _sendErrors++;
            return;
        }

        _sends.Add(relay.Fd, datagram.Slice(route.PayloadOffset, route.PayloadLength), route.Peer.Address);
        _metrics.PacketSize(route.PayloadLength);
    }

    private void ExecuteCommands(Instant now, Activity? activity = null)
    {
        _sends.Flush(); // a command may close a socket whose descriptor a queued datagram names
        while (_engine.PollCommand() is { } command)
        {
            switch (command)
            {
                case SendToClient send:
                    UdpSocket? listen = send.Client.Family == IpFamily.V4 ? _listenV4 : _listenV6;
                    if (listen is null || listen.SendTo(send.Payload, send.Client.Address) != 0)
                    {
                        _sendErrors++;
                    }

                    _metrics.Response(send.Method, send.ErrorCode);
                    if (activity is not null)
                    {
                        activity.SetTag("stun.error_code", send.ErrorCode);
                        activity.SetStatus(send.ErrorCode is 0 or 401 or 438 ? ActivityStatusCode.Ok : ActivityStatusCode.Error);
                    }

                    break;
                case CreateAllocation create:
                    Bind(create, now);
                    break;
                case FreeAllocation free:
                    Free(free.Port.Value, free.Family);
                    break;
                case AddChannelBinding add:
                    _fastPath.ChannelBound(add); // before the ChannelBind success that follows it is sent
                    break;
                case RemoveChannelBinding remove:
                    _fastPath.ChannelUnbound(remove);
                    break;
            }
        }
    }

    private void Bind(CreateAllocation create, Instant now)
    {
        ushort port = create.Port.Value;
        UdpSocket?[] table = create.Family == IpFamily.V4 ? _allocationsV4 : _allocationsV6;
        if (table[port] is not null)
        {
            Free(port, create.Family); // never happens with a correct engine; keeps the table honest if it did
        }

        IPAddress bind = create.Family == IpFamily.V4 ? _bindV4 : _bindV6;
        UdpSocket? socket = UdpSocket.TryOpen(bind, port, create.DontFragment, UdpSocket.AllocationBufferBytes, out int errno);
        if (socket is null)
        {
            LogBindFailed(_logger, port, create.Family, Native.LibC.ErrorText(errno));
            _engine.AllocationBindFailed(create.Port, create.Family, now);
            return;
        }

        table[port] = socket;
        _epoll.Add(socket.Fd, AllocationKind | ((ulong)create.Family << 16) | port);
        Interlocked.Increment(ref _allocationSockets);
        _fastPath.AllocationBound(create.Port, create.Family);
    }

    private void Free(ushort port, IpFamily family)
    {
        UdpSocket?[] table = family == IpFamily.V4 ? _allocationsV4 : _allocationsV6;
        if (table[port] is { } socket)
        {
            _fastPath.AllocationFreed(new AllocationPort(port), family); // before the port can belong to another socket
            _epoll.Remove(socket.Fd);
            socket.Dispose();
            table[port] = null;
            Interlocked.Decrement(ref _allocationSockets);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || !Stop())
        {
            return; // already disposed, or the thread is stuck: leaking beats freeing memory it may still touch
        }

        for (int port = 0; port < 65536; port++)
        {
            Free((ushort)port, IpFamily.V4);
            Free((ushort)port, IpFamily.V6);
        }

        _listenV4?.Dispose();
        _listenV6?.Dispose();
        _batch.Dispose();
        _sends.Dispose();
        _epoll.Dispose();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "UDP data plane running on port {Port}")]
    private static partial void LogLoopStarted(ILogger logger, ushort port);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Could not bind relay port {Port} ({Family}): {Reason}; the engine will pick another")]
    private static partial void LogBindFailed(ILogger logger, ushort port, IpFamily family, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Unexpected error in the data plane (#{Count}); continuing")]
    private static partial void LogLoopError(ILogger logger, long count, Exception exception);
}
