using System.Runtime.InteropServices;
using Relay.Core.Net;
using Relay.Core.Server;

namespace Relay.Web.Udp.Native;

/// <summary>
/// Native buffers for one recvmmsg call: <see cref="Count"/> datagram slots, each with <see cref="RelayServer.PeerHeadroom"/>
/// bytes in front (where a ChannelData header or Data indication is written in place) and room for the largest
/// UDP datagram plus padding behind. Allocated once; nothing is allocated per packet.
/// </summary>
internal sealed unsafe class ReceiveBatch : IDisposable
{
    public const int Headroom = RelayServer.PeerHeadroom;
    public const int MaxDatagram = 65535;
    public const int SlotSize = Headroom + MaxDatagram + RelayServer.PeerTailroom + 1;

    private readonly byte* _buffers;
    private readonly byte* _names;
    private readonly IoVec* _iovecs;
    private readonly MMsgHdr* _headers;

    public ReceiveBatch(int count)
    {
        Count = count;
        _buffers = (byte*)NativeMemory.AlignedAlloc((nuint)(count * SlotSize), 64);
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(count * SockAddr.StorageSize));
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(count * sizeof(IoVec)));
        _headers = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(count * sizeof(MMsgHdr)));
    }

    public int Count { get; }

    /// <summary>Reads up to <see cref="Count"/> datagrams; returns how many (0 when none are waiting).</summary>
    public int Receive(int fd, int max)
    {
        max = Math.Min(max, Count);
        for (int i = 0; i < max; i++)
        {
            _iovecs[i].Base = _buffers + (i * SlotSize) + Headroom;
            _iovecs[i].Length = MaxDatagram;
            ref MsgHdr header = ref _headers[i].Header;
            header.Name = _names + (i * SockAddr.StorageSize);
            header.NameLength = SockAddr.StorageSize;
            header.Iov = &_iovecs[i];
            header.IovLength = 1;
            header.Control = null;
            header.ControlLength = 0;
            header.Flags = 0;
        }

        int n = LibC.recvmmsg(fd, _headers, (uint)max, LibC.MSG_DONTWAIT, null);
        return n < 0 ? 0 : n;
    }

    /// <summary>The whole slot of datagram <paramref name="index"/>: headroom, payload (at <see cref="Headroom"/>), tailroom.</summary>
    public Span<byte> Slot(int index) => new(_buffers + (index * SlotSize), SlotSize);

    public int Length(int index) => (int)_headers[index].Length;

    /// <summary>MSG_TRUNC: the datagram was larger than the slot (never for UDP's 65535 limit, kept for safety).</summary>
    public bool Truncated(int index) => (_headers[index].Header.Flags & 0x20) != 0;

    public bool TrySource(int index, out TransportAddress source) =>
        SockAddr.TryRead(_names + (index * SockAddr.StorageSize), _headers[index].Header.NameLength, out source);

    public void Dispose()
    {
        NativeMemory.AlignedFree(_buffers);
        NativeMemory.Free(_names);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_headers);
    }
}
