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
/// Unpaced mode (--rate 0): closed loop, the receive thread that owns an allocation keeps --window packets in flight
/// on it. --receivers threads (default 2) each own every Nth allocation and wait for all of their sockets in one
/// epoll set, reading the ready ones without blocking; thread per allocation would not scale to 10,000 of them.
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
    private const int PerSocketBudget = 32; // datagrams read from one ready socket before the next one's turn
    private const int WaitMs = 20;

    private readonly LoadOptions _options;
    private readonly TurnAllocation[] _allocations;
    private readonly uint _runId;
    private readonly long[] _send;
    private readonly long[] _recv;
    private readonly LatencyHistogram[] _histograms; // one per receive thread (only that thread records)
    private readonly long[] _highest;                 // per lane: highest sequence echoed (owner thread only)
    private readonly long[] _lastProgress;            // per lane: Stopwatch time of the last echo or refill
    private readonly int _receivers;
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
        _receivers = oneWayReceiver is null ? Math.Min(options.Receivers, allocations.Length) : 1;
        _histograms = new LatencyHistogram[_receivers];
        for (int i = 0; i < _receivers; i++)
        {
            _histograms[i] = new LatencyHistogram();
        }

        _highest = new long[allocations.Length];
        Array.Fill(_highest, -1);
        _lastProgress = new long[allocations.Length];
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
        if (_oneWayReceiver is { } peerSocket)
        {
            peerSocket.ReceiveTimeout = ReceiveTimeoutMs;
            _threads.Add(new Thread(() => OneWayReceiveLoop(peerSocket)) { Name = "lt-peer-recv", IsBackground = true });
        }
        else
        {
            for (int i = 0; i < _receivers; i++)
            {
                int receiver = i;
                _threads.Add(new Thread(() => ReceiveLoop(receiver)) { Name = $"lt-recv-{receiver}", IsBackground = true });
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

    /// <summary>Serves lanes <paramref name="receiver"/>, +receivers, ... until <see cref="Phase.Stop"/>.</summary>
    private unsafe void ReceiveLoop(int receiver)
    {
        int lanes = (_allocations.Length - receiver + _receivers - 1) / _receivers;
        using var epoll = new Epoll(Math.Min(1024, lanes));
        int[] fds = new int[_allocations.Length];
        for (int lane = receiver; lane < _allocations.Length; lane += _receivers)
        {
            fds[lane] = Native.Fd(_allocations[lane].Socket);
            epoll.Add(fds[lane], lane);
        }

        LatencyHistogram histogram = _histograms[receiver];
        bool closedLoop = !Paced;
        byte[]? packet = closedLoop ? NewPacket() : null;
        long stallTicks = ReceiveTimeoutMs * Stopwatch.Frequency / 1000;
        long nextSweep = Stopwatch.GetTimestamp() + stallTicks;
        if (closedLoop)
        {
            for (int lane = receiver; lane < _allocations.Length; lane += _receivers)
            {
                _lastProgress[lane] = Stopwatch.GetTimestamp();
                FillWindow(lane, packet!, _highest[lane], _options.Window);
            }
        }

        byte[] buffer = GC.AllocateArray<byte>(65536, pinned: true);
        fixed (byte* raw = buffer)
        {
            while (Volatile.Read(ref _phase) < (int)Phase.Stop)
            {
                int ready = epoll.Wait(WaitMs);
                for (int i = 0; i < ready; i++)
                {
                    int lane = epoll.TokenAt(i);
                    for (int budget = 0; budget < PerSocketBudget; budget++)
                    {
                        int length = Native.ReceiveNow(fds[lane], raw, buffer.Length);
                        if (length < 0)
                        {
                            if (length != -Native.EAGAIN && length != -Native.EINTR)
                            {
                                // A queued ICMP error (ECONNREFUSED...) is reported once and then cleared.
                                Interlocked.Increment(ref _receiveErrors);
                            }

                            break;
                        }

                        OnDatagram(lane, buffer.AsSpan(0, length), histogram, packet);
                    }
                }

                long now = Stopwatch.GetTimestamp();
                if (closedLoop && now >= nextSweep)
                {
                    nextSweep = now + (stallTicks / 2);
                    RefillStalledLanes(receiver, packet!, now - stallTicks);
                }
            }
        }
    }

    private void OnDatagram(int lane, ReadOnlySpan<byte> datagram, LatencyHistogram histogram, byte[]? packet)
    {
        long now = Stopwatch.GetTimestamp();
        int slot = lane * Stride;
        if (datagram.Length < ChannelData.HeaderLength + LoadOptions.PayloadHeaderLength
            || BinaryPrimitives.ReadUInt16BigEndian(datagram) != TurnAllocation.Channel
            || BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]) != _options.Size
            || BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]) != _runId
            || BinaryPrimitives.ReadInt32LittleEndian(datagram[8..]) != lane)
        {
            _recv[slot + ForeignOffset]++;
            return;
        }

        Account(lane, datagram[ChannelData.HeaderLength..], now, ref _highest[lane], histogram);
        if (packet is null)
        {
            return;
        }

        _lastProgress[lane] = now;
        int current = Volatile.Read(ref _phase);
        if (current < (int)Phase.Drain)
        {
            // Sequence numbers come back in order on one allocation, so everything sent after the highest echo is
            // in flight; anything older that is missing was lost and no longer holds the window.
            while (_send[slot + NextSeqOffset] - 1 - _highest[lane] < _options.Window)
            {
                SendOne(lane, current, packet);
            }
        }
    }

    /// <summary>Closed loop: a lane with nothing back for 100 ms counts what is in flight as lost and starts over.</summary>
    private void RefillStalledLanes(int receiver, byte[] packet, long stalledBefore)
    {
        if (Volatile.Read(ref _phase) >= (int)Phase.Drain)
        {
            return;
        }

        for (int lane = receiver; lane < _allocations.Length; lane += _receivers)
        {
            if (_lastProgress[lane] < stalledBefore)
            {
                _highest[lane] = _send[(lane * Stride) + NextSeqOffset] - 1;
                _lastProgress[lane] = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref _refills);
                FillWindow(lane, packet, _highest[lane], _options.Window);
            }
        }
    }

    /// <summary>Counts one arrival of <paramref name="lane"/> and records its latency if it was sent while measuring.</summary>
    private void Account(int lane, ReadOnlySpan<byte> payload, long now, ref long highest, LatencyHistogram histogram)
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
            histogram.Record((long)((now - sentAt) * _nanosPerTick));
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

            Account(lane, payload, now, ref highest[lane], _histograms[0]);
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
