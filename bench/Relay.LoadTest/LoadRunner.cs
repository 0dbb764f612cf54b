using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Net;
using Relay.Core.Stun;

namespace Relay.LoadTest;

/// <summary>Phases of a run; every packet carries the phase it was sent in, so warm-up echoes are never counted.</summary>
internal enum Phase
{
    Warmup = 0,
    Measure = 1,
    Drain = 2,
    Stop = 3,
}

/// <summary>
/// The data path. Paced mode: one sender thread with a token bucket round-robins over the allocations' sockets.
/// Unpaced mode (--rate 0): closed loop, each receive thread keeps --window packets in flight on its allocation.
/// One receive thread per allocation blocks in <see cref="Socket.ReceiveFrom(Span{byte}, SocketFlags, SocketAddress)"/>.
/// Payload (after the 4-byte ChannelData header): run id (u32), allocation (u32), sequence (u64), send timestamp
/// (Stopwatch ticks, i64), phase (u8), filler. Nothing on the per-packet path allocates. One-way mode (--one-way):
/// the peer's socket is read instead, by one thread, and latency is client to peer.
/// </summary>
internal sealed class LoadRunner
{
    private const int Stride = 16;        // longs per lane slot: 128 bytes, so threads never share a cache line
    private const int SentOffset = 0;
    private const int MeasuredSentOffset = 1;
    private const int NextSeqOffset = 2;
    private const int ReceivedOffset = 0;
    private const int MeasuredReceivedOffset = 1;
    private const int OutOfOrderOffset = 2;
    private const int ForeignOffset = 3;
    private const int ReceiveTimeoutMs = 100;

    private readonly LoadOptions _options;
    private readonly TurnAllocation[] _allocations;
    private readonly uint _runId;
    private readonly long[] _send;
    private readonly long[] _recv;
    private readonly LatencyHistogram[] _histograms;
    private readonly double _nanosPerTick = 1e9 / Stopwatch.Frequency;
    private readonly Socket? _oneWayReceiver;
    private readonly List<Thread> _threads = new();
    private int _phase;
    private long _tokensDropped;
    private long _sendErrors;
    private long _receiveErrors;
    private long _refills;

    public LoadRunner(LoadOptions options, TurnAllocation[] allocations, Socket? oneWayReceiver = null)
    {
        _options = options;
        _oneWayReceiver = oneWayReceiver;
        _allocations = allocations;
        _runId = (uint)Random.Shared.Next() | 1u;
        _send = new long[(allocations.Length + 1) * Stride];
        _recv = new long[(allocations.Length + 1) * Stride];
        _histograms = new LatencyHistogram[allocations.Length];
        for (int i = 0; i < allocations.Length; i++)
        {
            _histograms[i] = new LatencyHistogram();
        }
    }

    public Phase Phase => (Phase)Volatile.Read(ref _phase);

    public bool Paced => _options.Rate > 0;

    public long TokensDropped => Interlocked.Read(ref _tokensDropped);

    public long SendErrors => Interlocked.Read(ref _sendErrors);

    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    public long Refills => Interlocked.Read(ref _refills);

    public long Sent => Sum(_send, SentOffset);

    public long MeasuredSent => Sum(_send, MeasuredSentOffset);

    public long Received => Sum(_recv, ReceivedOffset);

    public long MeasuredReceived => Sum(_recv, MeasuredReceivedOffset);

    public long OutOfOrder => Sum(_recv, OutOfOrderOffset);

    public long Foreign => Sum(_recv, ForeignOffset);

    public void Start()
    {
        if (_oneWayReceiver is { } receiver)
        {
            receiver.ReceiveTimeout = ReceiveTimeoutMs;
            _threads.Add(new Thread(() => OneWayReceiveLoop(receiver)) { Name = "lt-peer-recv", IsBackground = true });
        }
        else
        {
            for (int i = 0; i < _allocations.Length; i++)
            {
                int lane = i;
                _allocations[i].Socket.ReceiveTimeout = ReceiveTimeoutMs;
                _threads.Add(new Thread(() => ReceiveLoop(lane)) { Name = $"lt-recv-{lane}", IsBackground = true });
            }
        }

        if (Paced)
        {
            _threads.Add(new Thread(SendLoop) { Name = "lt-send", IsBackground = true });
        }

        foreach (Thread thread in _threads)
        {
            thread.Start();
        }
    }

    public void SetPhase(Phase phase) => Volatile.Write(ref _phase, (int)phase);

    /// <summary>Waits for the threads (they notice <see cref="Phase.Stop"/> within the receive timeout).</summary>
    public void Join()
    {
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        foreach (TurnAllocation allocation in _allocations)
        {
            allocation.Socket.ReceiveTimeout = 0;
        }
    }

    public LatencyHistogram MergedHistogram()
    {
        var merged = new LatencyHistogram();
        foreach (LatencyHistogram histogram in _histograms)
        {
            merged.Add(histogram);
        }

        return merged;
    }

    private byte[] NewPacket()
    {
        byte[] packet = new byte[ChannelData.HeaderLength + _options.Size];
        ChannelData.WriteHeader(packet, TurnAllocation.Channel, _options.Size);
        for (int i = ChannelData.HeaderLength + LoadOptions.PayloadHeaderLength; i < packet.Length; i++)
        {
            packet[i] = (byte)i;
        }

        return packet;
    }

    /// <summary>Stamps and sends the next packet of <paramref name="lane"/>; only the lane's current sender calls it.</summary>
    private void SendOne(int lane, int phase, byte[] packet)
    {
        int slot = lane * Stride;
        long seq = _send[slot + NextSeqOffset];
        _send[slot + NextSeqOffset] = seq + 1;
        Span<byte> payload = packet.AsSpan(ChannelData.HeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, _runId);
        BinaryPrimitives.WriteInt32LittleEndian(payload[4..], lane);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], seq);
        payload[24] = (byte)phase;
        BinaryPrimitives.WriteInt64LittleEndian(payload[16..], Stopwatch.GetTimestamp());
        try
        {
            _allocations[lane].Socket.Send(packet);
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref _sendErrors);
            return;
        }

        Volatile.Write(ref _send[slot + SentOffset], _send[slot + SentOffset] + 1);
        if (phase == (int)Phase.Measure)
        {
            Volatile.Write(ref _send[slot + MeasuredSentOffset], _send[slot + MeasuredSentOffset] + 1);
        }
    }

    /// <summary>Token bucket: tokens accrue at --rate; the bucket holds at most 5 ms of tokens (overflow is reported).</summary>
    private void SendLoop()
    {
        byte[] packet = NewPacket();
        int lanes = _allocations.Length;
        double tokensPerTick = _options.Rate / (double)Stopwatch.Frequency;
        double cap = Math.Max(32, _options.Rate * 0.005);
        double tokens = 0;
        long last = Stopwatch.GetTimestamp();
        int next = 0;
        while (true)
        {
            int phase = Volatile.Read(ref _phase);
            if (phase >= (int)Phase.Drain)
            {
                return;
            }

            long now = Stopwatch.GetTimestamp();
            tokens += (now - last) * tokensPerTick;
            last = now;
            if (tokens > cap)
            {
                if (phase == (int)Phase.Measure)
                {
                    Interlocked.Add(ref _tokensDropped, (long)(tokens - cap));
                }

                tokens = cap;
            }

            if (tokens < 1)
            {
                Native.SleepMicroseconds(_options.TickMicroseconds);
                continue;
            }

            int burst = (int)tokens;
            tokens -= burst;
            for (int k = 0; k < burst; k++)
            {
                SendOne(next, phase, packet);
                if (++next == lanes)
                {
                    next = 0;
                }
            }
        }
    }

    private void ReceiveLoop(int lane)
    {
        Socket socket = _allocations[lane].Socket;
        byte[] buffer = new byte[65536];
        var from = new SocketAddress(socket.AddressFamily);
        int slot = lane * Stride;
        bool closedLoop = !Paced;
        int window = _options.Window;
        byte[]? packet = closedLoop ? NewPacket() : null;
        long highest = -1;

        if (closedLoop)
        {
            FillWindow(lane, packet!, highest, window);
        }

        while (true)
        {
            int phase = Volatile.Read(ref _phase);
            if (phase >= (int)Phase.Stop)
            {
                return;
            }

            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                if (closedLoop && phase < (int)Phase.Drain)
                {
                    // Nothing came back for 100 ms: count what is in flight as lost and start a new window.
                    highest = _send[slot + NextSeqOffset] - 1;
                    Interlocked.Increment(ref _refills);
                    FillWindow(lane, packet!, highest, window);
                }

                continue;
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref _receiveErrors);
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            long now = Stopwatch.GetTimestamp();
            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, length);
            if (length < ChannelData.HeaderLength + LoadOptions.PayloadHeaderLength
                || BinaryPrimitives.ReadUInt16BigEndian(datagram) != TurnAllocation.Channel
                || BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]) != _options.Size
                || BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]) != _runId
                || BinaryPrimitives.ReadInt32LittleEndian(datagram[8..]) != lane)
            {
                _recv[slot + ForeignOffset]++;
                continue;
            }

            Account(lane, datagram[ChannelData.HeaderLength..], now, ref highest);

            if (closedLoop)
            {
                int current = Volatile.Read(ref _phase);
                if (current < (int)Phase.Drain)
                {
                    // Sequence numbers come back in order on one allocation, so everything sent after the highest
                    // echo is in flight; anything older that is missing was lost and no longer holds the window.
                    while (_send[slot + NextSeqOffset] - 1 - highest < window)
                    {
                        SendOne(lane, current, packet!);
                    }
                }
            }
        }
    }

    /// <summary>Counts one arrival of <paramref name="lane"/> and records its latency if it was sent while measuring.</summary>
    private void Account(int lane, ReadOnlySpan<byte> payload, long now, ref long highest)
    {
        int slot = lane * Stride;
        long seq = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        long sentAt = BinaryPrimitives.ReadInt64LittleEndian(payload[16..]);
        if (seq <= highest)
        {
            _recv[slot + OutOfOrderOffset]++;
        }
        else
        {
            highest = seq;
        }

        Volatile.Write(ref _recv[slot + ReceivedOffset], _recv[slot + ReceivedOffset] + 1);
        if (payload[24] == (byte)Phase.Measure)
        {
            Volatile.Write(ref _recv[slot + MeasuredReceivedOffset], _recv[slot + MeasuredReceivedOffset] + 1);
            _histograms[lane].Record((long)((now - sentAt) * _nanosPerTick));
        }
    }

    /// <summary>One-way mode: the peer's datagrams are the relayed payloads, without a ChannelData header.</summary>
    private void OneWayReceiveLoop(Socket socket)
    {
        byte[] buffer = new byte[65536];
        var from = new SocketAddress(socket.AddressFamily);
        long[] highest = new long[_allocations.Length];
        Array.Fill(highest, -1);
        while (Volatile.Read(ref _phase) < (int)Phase.Stop)
        {
            int length = EchoPeer.Receive(socket, buffer, from, ref _receiveErrors);
            if (length < 0)
            {
                return;
            }

            if (length == 0)
            {
                continue;
            }

            long now = Stopwatch.GetTimestamp();
            ReadOnlySpan<byte> payload = buffer.AsSpan(0, length);
            int lane = length == _options.Size && BinaryPrimitives.ReadUInt32LittleEndian(payload) == _runId ? BinaryPrimitives.ReadInt32LittleEndian(payload[4..]) : -1;
            if ((uint)lane >= (uint)_allocations.Length)
            {
                _recv[(_allocations.Length * Stride) + ForeignOffset]++;
                continue;
            }

            Account(lane, payload, now, ref highest[lane]);
        }
    }

    private void FillWindow(int lane, byte[] packet, long highest, int window)
    {
        int phase = Volatile.Read(ref _phase);
        int slot = lane * Stride;
        while (phase < (int)Phase.Drain && _send[slot + NextSeqOffset] - 1 - highest < window)
        {
            SendOne(lane, phase, packet);
        }
    }

    private long Sum(long[] counters, int offset)
    {
        long total = 0;
        for (int i = 0; i < _allocations.Length; i++)
        {
            total += Volatile.Read(ref counters[(i * Stride) + offset]);
        }

        return total;
    }
}

/// <summary>
/// A UDP echo peer (loopback unless told otherwise): one thread, blocking receive, echo to the sender (the relay's
/// port). Given a network namespace, its socket is created inside it: a thread enters the namespace (setns affects
/// only that thread), creates the socket and leaves; the socket stays where it was made.
/// </summary>
internal sealed partial class EchoPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _echoed;
    private long _errors;

    /// <param name="echo">False: no echo thread; the runner reads <see cref="Socket"/> itself (one-way mode).</param>
    public EchoPeer(AddressFamily family, int socketBuffer, IPAddress? bind = null, string? netns = null, bool echo = true)
    {
        _socket = netns is null ? new Socket(family, SocketType.Dgram, ProtocolType.Udp) : SocketInNamespace(netns, family);
        _socket.ReceiveBufferSize = socketBuffer;
        _socket.SendBufferSize = socketBuffer;
        _socket.ReceiveTimeout = 100;
        _socket.Bind(new IPEndPoint(bind ?? (family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback), 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Run) { Name = "lt-echo", IsBackground = true };
        if (echo)
        {
            _thread.Start();
        }
    }

    public Socket Socket => _socket;

    public IPEndPoint EndPoint { get; }

    public long Echoed => Interlocked.Read(ref _echoed);

    public long Errors => Interlocked.Read(ref _errors);

    private void Run()
    {
        byte[] buffer = new byte[65536];
        var from = new SocketAddress(_socket.AddressFamily);
        while (!_stop)
        {
            int length = Receive(_socket, buffer, from, ref _errors);
            if (length < 0)
            {
                return;
            }

            if (length == 0)
            {
                continue;
            }

            try
            {
                _socket.SendTo(buffer.AsSpan(0, length), SocketFlags.None, from);
                Volatile.Write(ref _echoed, _echoed + 1);
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref _errors);
            }
        }
    }

    /// <summary>
    /// One blocking receive (the socket has a receive timeout): the datagram's length, 0 on a timeout or an error
    /// (counted in <paramref name="errors"/>), -1 once the socket is closed. Empty datagrams count as timeouts.
    /// </summary>
    public static int Receive(Socket socket, byte[] buffer, SocketAddress from, ref long errors)
    {
        try
        {
            return socket.ReceiveFrom(buffer, SocketFlags.None, from);
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return 0;
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref errors);
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    private static Socket SocketInNamespace(string netns, AddressFamily family)
    {
        Socket? socket = null;
        string? failure = null;
        var thread = new Thread(() =>
        {
            using var handle = File.OpenHandle($"/run/netns/{netns}");
            if (setns((int)handle.DangerousGetHandle(), 0x40000000 /* CLONE_NEWNET */) != 0)
            {
                failure = $"setns {netns}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}";
                return;
            }

            socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new SetupException($"cannot open the echo peer in namespace {netns}: {failure}");
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _socket.Dispose();
    }
}
