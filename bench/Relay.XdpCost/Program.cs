using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core.Net;
using Relay.Core.Server;
using Relay.Xdp;

// relay-xdp-cost: runs relay_xdp on crafted frames with BPF_PROG_TEST_RUN (root) and prints the kernel's time
// per run (median and mean of REPEAT single runs) for every route both ways and for a packet it passes. Each run
// gets a fresh copy of the frame: with BPF_PROG_TEST_RUN's own repeat the program would see its own rewritten
// output from the second run on, which it passes (that measured the pass path, not the relay path). The frame and
// the maps stay in cache, so this is the program's floor; bench/xdp/xdp-bench.sh measures it in traffic.
// A second argument sets --max-bps, so the per-allocation token buckets run too (a cap far above the test's rate
// never drops; this measures what the bucket costs).
//   dotnet run -c Release --project bench/Relay.XdpCost [-- REPEAT [MAX_BPS]]
int repeat = args.Length > 0 ? int.Parse(args[0]) : 200_000;
long maxBps = args.Length > 1 ? long.Parse(args[1]) : 0;
string path = Path.Combine(AppContext.BaseDirectory, XdpProgram.ObjectFileName);
using XdpProgram program = XdpProgram.Load(path);
IPAddress v4 = IPAddress.Parse("192.0.2.1"), v6 = IPAddress.Parse("2001:db8::1");
var options = new XdpOptions { Interface = "none", ListenPort = 3478, LowestPort = 49152, HighestPort = 65535, PublicV4 = v4, PublicV6 = v6, MaxBytesPerSecondPerAllocation = maxBps };
using XdpFastPath fastPath = XdpFastPath.Create(program, options, new XdpInterface("none", 0, 1500, [v4], [v6]), NullLogger.Instance);

IPAddress Relay(IpFamily f) => f == IpFamily.V4 ? v4 : v6;
IPAddress Client(IpFamily f) => IPAddress.Parse(f == IpFamily.V4 ? "198.51.100.10" : "2001:db8:c::10");
IPAddress Peer(IpFamily f) => IPAddress.Parse(f == IpFamily.V4 ? "198.51.100.20" : "2001:db8:d::20");
byte[] payload = new byte[100];
byte[] channelData = new byte[104];
BinaryPrimitives.WriteUInt16BigEndian(channelData, 0x4001);
BinaryPrimitives.WriteUInt16BigEndian(channelData.AsSpan(2), 100);

Console.WriteLine($"relay_xdp, {repeat} single BPF_PROG_TEST_RUNs each, 100-byte payloads, --max-bps {maxBps}: ns per run, median / mean (kernel's measure)");
Console.WriteLine("route  client->peer  peer->client");
const uint XdpPass = 2, XdpTx = 3;
ushort port = 50000;
foreach (IpFamily client in (IpFamily[])[IpFamily.V4, IpFamily.V6])
{
    foreach (IpFamily peer in (IpFamily[])[IpFamily.V4, IpFamily.V6])
    {
        var clientEnd = new IPEndPoint(Client(client), 40000);
        var peerEnd = new IPEndPoint(Peer(peer), 5000);
        fastPath.AllocationBound(new AllocationPort(port), peer);
        fastPath.ChannelBound(new AddChannelBinding(new ClientSocket(TransportAddress.FromIPEndPoint(clientEnd)), new ChannelNumber(0x4001),
            new PeerSocket(TransportAddress.FromIPEndPoint(peerEnd)), new AllocationPort(port)));
        string up = Measure(UdpFrame(clientEnd, new IPEndPoint(Relay(client), 3478), channelData), XdpTx);
        string down = Measure(UdpFrame(peerEnd, new IPEndPoint(Relay(peer), port), payload), XdpTx);
        Console.WriteLine($"{RelayCounters.RouteName(client, peer),5}  {up,12}  {down,12}");
        port++;
    }
}

Console.WriteLine($"passed (not a relay port): {Measure(UdpFrame(new IPEndPoint(Client(IpFamily.V4), 53), new IPEndPoint(v4, 33000), payload), XdpPass)} ns");
return 0;

// The median and mean of single runs, each checked to take the path being measured.
string Measure(byte[] frame, uint expected)
{
    var times = new uint[repeat];
    for (int i = 0; i < repeat; i++)
    {
        var (action, _, nanoseconds) = program.TestRun(frame);
        if (action != expected)
        {
            throw new InvalidOperationException($"XDP action {action}, expected {expected}");
        }

        times[i] = nanoseconds;
    }

    Array.Sort(times);
    return $"{times[repeat / 2]} / {times.Average(t => (double)t):F0}";
}

// A minimal Ethernet/IP/UDP frame (checksums are not checked by the program, but set anyway).
static byte[] UdpFrame(IPEndPoint from, IPEndPoint to, byte[] data)
{
    bool isV4 = from.AddressFamily == AddressFamily.InterNetwork;
    int ip = isV4 ? 20 : 40, udp = 8 + data.Length;
    byte[] frame = new byte[14 + ip + udp];
    BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), isV4 ? (ushort)0x0800 : (ushort)0x86DD);
    Span<byte> h = frame.AsSpan(14);
    if (isV4)
    {
        h[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(ip + udp));
        h[8] = 64;
        h[9] = 17;
        from.Address.GetAddressBytes().CopyTo(h[12..]);
        to.Address.GetAddressBytes().CopyTo(h[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(h[i..]);
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], (ushort)~((sum & 0xFFFF) + (sum >> 16)));
    }
    else
    {
        h[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)udp);
        h[6] = 17;
        h[7] = 64;
        from.Address.GetAddressBytes().CopyTo(h[8..]);
        to.Address.GetAddressBytes().CopyTo(h[24..]);
    }

    Span<byte> u = h[ip..];
    BinaryPrimitives.WriteUInt16BigEndian(u, (ushort)from.Port);
    BinaryPrimitives.WriteUInt16BigEndian(u[2..], (ushort)to.Port);
    BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)udp);
    BinaryPrimitives.WriteUInt16BigEndian(u[6..], 0xFFFF); // any non-zero checksum: incremental updates keep it consistent
    data.CopyTo(u[8..]);
    return frame;
}
