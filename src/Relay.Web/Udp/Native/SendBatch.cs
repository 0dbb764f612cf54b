using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Relay.Core.Net;

namespace Relay.Web.Udp.Native;

/// <summary>
/// Datagrams routed from one receive batch, sent with one sendmmsg per outgoing socket instead of one sendto each.
/// Consecutive datagrams to the same destination with the same size (a media stream between one peer and one
/// client) go out as one UDP GSO message (UDP_SEGMENT): the kernel walks its send path once for the group and
/// splits it at the end, which is where a relay spends nearly all of its time. The payloads stay where recvmmsg put
/// them (native memory, valid until the next receive); only their addresses are queued.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    private const int NameStride = 32; // sockaddr_in6 (28 bytes), rounded up
    private const int ControlStride = 24; // CMSG_SPACE(sizeof(ushort)) on LP64
    private const int SolUdp = 17;
    private const int UdpSegment = 103;
    private const int MaxSegments = 64; // UDP_MAX_SEGMENTS
    private const int MaxGsoBytes = 65000;

    private readonly int _capacity;
    private readonly IoVec* _iovecs;
    private readonly IoVec* _groupIovecs;
    private readonly byte* _names;
    private readonly uint* _nameLengths;
    private readonly byte* _controls;
    private readonly MMsgHdr* _headers;
    private readonly int[] _fds;
    private readonly int[] _order;
    private readonly int[] _groupStart;
    private readonly int[] _groupSize;
    private int _count;
    private bool _gso = true;

    public SendBatch(int capacity)
    {
        _capacity = capacity;
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(IoVec)));
        _groupIovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(IoVec)));
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * NameStride));
        _nameLengths = (uint*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(uint)));
        _controls = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * ControlStride));
        _headers = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(MMsgHdr)));
        _fds = new int[capacity];
        _order = new int[capacity];
        _groupStart = new int[capacity];
        _groupSize = new int[capacity];
    }

    /// <summary>Datagrams the kernel refused (full buffer, ICMP error pending on the socket...).</summary>
    public long Failures { get; private set; }

    /// <summary>Datagrams that left as part of a GSO group (for the curious; not a correctness matter).</summary>
    public long Coalesced { get; private set; }

    /// <summary>
    /// Queues <paramref name="payload"/>, which must live in native memory that stays put until <see cref="Flush"/>
    /// (a <see cref="ReceiveBatch"/> slot). Flushes first when full.
    /// </summary>
    public void Add(int fd, Span<byte> payload, TransportAddress destination)
    {
        if (_count == _capacity)
        {
            Flush();
        }

        int i = _count++;
        _fds[i] = fd;
        _iovecs[i].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(payload));
        _iovecs[i].Length = (nuint)payload.Length;
        _nameLengths[i] = SockAddr.Write(destination, _names + (i * NameStride));
    }

    /// <summary>Forgets what is queued (after an error left the receive buffers in an unknown state).</summary>
    public void Discard()
    {
        Failures += _count;
        _count = 0;
    }

    /// <summary>Sends everything queued: per socket one sendmmsg of plain or GSO messages.</summary>
    public void Flush()
    {
        int count = _count;
        if (count == 0)
        {
            return;
        }

        // Group by socket (insertion sort keeps each socket's datagrams in arrival order; n <= 32).
        for (int i = 0; i < count; i++)
        {
            int j = i;
            while (j > 0 && _fds[_order[j - 1]] > _fds[i])
            {
                _order[j] = _order[j - 1];
                j--;
            }

            _order[j] = i;
        }

        for (int k = 0; k < count; k++)
        {
            _groupIovecs[k] = _iovecs[_order[k]];
        }

        int start = 0;
        while (start < count)
        {
            int fd = _fds[_order[start]];
            int end = start + 1;
            while (end < count && _fds[_order[end]] == fd)
            {
                end++;
            }

            SendRun(fd, start, end);
            start = end;
        }

        _count = 0;
    }

    /// <summary>Sends sorted entries [start, end) of one socket, as few messages as GSO allows.</summary>
    private void SendRun(int fd, int start, int end)
    {
        int messages = 0;
        for (int k = start; k < end;)
        {
            int size = Group(k, end);
            _groupStart[messages] = k;
            _groupSize[messages] = size;
            BuildMessage(messages, k, size);
            messages++;
            k += size;
        }

        int next = 0;
        while (next < messages)
        {
            int sent = LibC.sendmmsg(fd, _headers + next, (uint)(messages - next), LibC.MSG_DONTWAIT);
            if (sent > 0)
            {
                for (int m = next; m < next + sent; m++)
                {
                    Coalesced += _groupSize[m] > 1 ? _groupSize[m] : 0;
                }

                next += sent;
                continue;
            }

            // The message at 'next' was refused. A GSO group is retried one datagram at a time; if the refusal says
            // the kernel or device cannot do UDP GSO, groups stop being formed at all. A single datagram is counted
            // and skipped.
            int errno = Marshal.GetLastPInvokeError();
            if (_groupSize[next] > 1 && errno is LibC.EIO or LibC.EINVAL or LibC.EOPNOTSUPP or LibC.EMSGSIZE)
            {
                _gso &= errno == LibC.EMSGSIZE;
                SendOneByOne(fd, _groupStart[next], _groupSize[next]);
            }
            else
            {
                Failures += _groupSize[next];
            }

            next++;
        }
    }

    /// <summary>
    /// How many sorted entries from k form one GSO group: same destination, same size (the last may be shorter but
    /// not empty: a zero-length segment would vanish inside the group, and an empty datagram is a valid one).
    /// </summary>
    private int Group(int k, int end)
    {
        int first = _order[k];
        nuint segment = _iovecs[first].Length;
        if (!_gso || segment == 0)
        {
            return 1;
        }

        nuint total = segment;
        int size = 1;
        while (k + size < end && size < MaxSegments)
        {
            int candidate = _order[k + size];
            nuint length = _iovecs[candidate].Length;
            if (length > segment || length == 0 || total + length > MaxGsoBytes || !SameDestination(first, candidate))
            {
                break;
            }

            size++;
            total += length;
            if (length < segment)
            {
                break; // only the last segment may be short
            }
        }

        return size;
    }

    private bool SameDestination(int a, int b) =>
        _nameLengths[a] == _nameLengths[b]
        && new ReadOnlySpan<byte>(_names + (a * NameStride), (int)_nameLengths[a]).SequenceEqual(new ReadOnlySpan<byte>(_names + (b * NameStride), (int)_nameLengths[b]));

    private void BuildMessage(int message, int k, int size)
    {
        int first = _order[k];
        ref MsgHdr header = ref _headers[message].Header;
        header.Name = _names + (first * NameStride);
        header.NameLength = _nameLengths[first];
        header.Iov = &_groupIovecs[k];
        header.IovLength = (nuint)size;
        header.Flags = 0;
        if (size == 1)
        {
            header.Control = null;
            header.ControlLength = 0;
            return;
        }

        // cmsghdr { size_t len; int level; int type; } followed by the u16 segment size.
        byte* control = _controls + (message * ControlStride);
        new Span<byte>(control, ControlStride).Clear();
        *(nuint*)control = 16 + sizeof(ushort);
        *(int*)(control + 8) = SolUdp;
        *(int*)(control + 12) = UdpSegment;
        *(ushort*)(control + 16) = (ushort)_iovecs[first].Length;
        header.Control = control;
        header.ControlLength = ControlStride;
    }

    private void SendOneByOne(int fd, int k, int size)
    {
        for (int m = 0; m < size; m++)
        {
            int entry = _order[k + m];
            nint sent = LibC.sendto(fd, _iovecs[entry].Base, _iovecs[entry].Length, LibC.MSG_DONTWAIT, _names + (entry * NameStride), _nameLengths[entry]);
            if (sent < 0)
            {
                Failures++;
            }
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_groupIovecs);
        NativeMemory.Free(_names);
        NativeMemory.Free(_nameLengths);
        NativeMemory.Free(_controls);
        NativeMemory.Free(_headers);
    }
}
