using System.Globalization;
using System.Net;
using Relay.Core.Auth;

namespace Relay.LoadTest;

/// <summary>A command-line mistake: printed with the usage text, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Command-line options of the load tool.</summary>
internal sealed class LoadOptions
{
    public const int PayloadHeaderLength = 25; // run id, allocation, sequence, timestamp, phase
    public const int MaxAllocations = 1000;    // one receive thread per allocation
    public const int MaxSeconds = 250;         // permissions live 300 s and the tool never refreshes them

    public IPEndPoint Server { get; private set; } = new(IPAddress.Loopback, 3478);

    public string Secret { get; private set; } = string.Empty;

    public AuthScheme Scheme { get; private set; } = AuthScheme.TurnRest;

    public string User { get; private set; } = "load";

    public int Allocations { get; private set; } = 10;

    /// <summary>Total packets/s over all allocations; 0 = unpaced (closed loop with <see cref="Window"/>).</summary>
    public int Rate { get; private set; } = 10_000;

    public double Duration { get; private set; } = 10;

    public double Warmup { get; private set; } = 2;

    public double Drain { get; private set; } = 2;

    public int Size { get; private set; } = 100;

    public IPEndPoint? Peer { get; private set; }

    /// <summary>Address the tool's own echo peer binds to (default loopback of the server's family).</summary>
    public IPAddress? PeerBind { get; private set; }

    /// <summary>Network namespace (a name under /run/netns) the tool's own echo peer lives in.</summary>
    public string? PeerNetns { get; private set; }

    public int Window { get; private set; } = 16;

    public int SocketBuffer { get; private set; } = 4 * 1024 * 1024;

    public int TickMicroseconds { get; private set; } = 200;

    public int? ServerPid { get; private set; }

    public int? PeerPid { get; private set; }

    public double? MaxLossPercent { get; private set; }

    public bool Json { get; private set; }

    /// <summary>Client to peer only: the peer counts arrivals instead of echoing (paced runs, own peer).</summary>
    public bool OneWay { get; private set; }

    public bool Quiet { get; private set; }

    public string? Label { get; private set; }

    public const string Usage = """
        relay-loadtest: TURN/UDP load generator (ChannelData through a TURN server to a UDP echo peer and back).

        Usage: relay-loadtest --secret SECRET [options]

          --server HOST:PORT      TURN server (default 127.0.0.1:3478; [::1]:3478 for IPv6)
          --secret SECRET         shared secret of the server (required)
          --auth-scheme S         turn-rest (default: user "<expiry>:<user>", password base64(HMAC-SHA1(secret, user)))
                                  or firezone (user "<expiry>:<user><i>", password base64(SHA-256("expiry:secret:salt")))
          --user NAME             user part of the username (default load)
          --allocations N         allocations, one UDP socket and one channel each (default 10, max 1000)
          --rate PPS              total packets/s sent by the client over all allocations (default 10000);
                                  0 = unpaced: closed loop, --window packets in flight per allocation
          --window W              in-flight packets per allocation when --rate 0 (default 16)
          --duration S            measured seconds (default 10)
          --warmup S              seconds of traffic before the measurement starts (default 2)
          --drain S               seconds to wait for the last echoes after sending stops (default 2)
          --size BYTES            ChannelData payload bytes (default 100, min 25, max 8192)
          --peer HOST:PORT        UDP echo peer to bind the channels to (e.g. turnutils_peer); default: the tool
                                  runs its own echo peer thread on loopback
          --peer-bind IP          address the tool's own echo peer binds to (default: loopback)
          --peer-netns NAME       open the tool's own echo peer in network namespace NAME (ip netns), so the tool
                                  can be the client in one namespace and the peer in another (needs root)
          --server-pid PID        report the CPU of that process (and its busiest thread) over the measured window
          --peer-pid PID          report the CPU of an external echo peer (with --peer)
          --sock-buf BYTES        SO_RCVBUF/SO_SNDBUF of the tool's sockets (default 4194304)
          --tick-us US            pacing tick: the sender sleeps this long when it has no tokens (default 200)
          --max-loss PCT          exit 1 when the loss exceeds PCT
          --label TEXT            free text copied into the report
          --one-way               the echo peer only counts and times what arrives (client -> relay -> peer);
                                  needs --rate > 0 and the tool's own peer. Latency is then one way.
          --json                  print the report as one JSON object on stdout
          --quiet                 no per-second progress on stderr

        Reported: echoes/s = round trips/s (client -> relay -> peer -> relay -> client). Each echo is 2 relayed
        datagrams (ChannelData -> UDP and UDP -> ChannelData), also reported as relayed_datagrams_per_s.
        Exit codes: 0 measured, 1 loss above --max-loss or nothing echoed, 2 usage or set-up failure.
        """;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help" or "-?")
            {
                throw new UsageException(string.Empty);
            }

            if (name is "--json")
            {
                options.Json = true;
                continue;
            }

            if (name is "--quiet")
            {
                options.Quiet = true;
                continue;
            }

            if (name is "--one-way")
            {
                options.OneWay = true;
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new UsageException($"{name} needs a value");
            }

            string value = args[++i];
            switch (name)
            {
                case "--server":
                    options.Server = ParseEndPoint(name, value);
                    break;
                case "--secret":
                    options.Secret = value;
                    break;
                case "--auth-scheme":
                    options.Scheme = value switch
                    {
                        "turn-rest" => AuthScheme.TurnRest,
                        "firezone" => AuthScheme.Firezone,
                        _ => throw new UsageException($"--auth-scheme must be turn-rest or firezone, not '{value}'"),
                    };
                    break;
                case "--user":
                    options.User = value.Length > 0 && !value.Contains(':') ? value : throw new UsageException("--user must be non-empty without ':'");
                    break;
                case "--allocations":
                    options.Allocations = ParseInt(name, value, 1, MaxAllocations);
                    break;
                case "--rate":
                    options.Rate = ParseInt(name, value, 0, 10_000_000);
                    break;
                case "--window":
                    options.Window = ParseInt(name, value, 1, 4096);
                    break;
                case "--duration":
                    options.Duration = ParseDouble(name, value, 0.1, MaxSeconds);
                    break;
                case "--warmup":
                    options.Warmup = ParseDouble(name, value, 0, MaxSeconds);
                    break;
                case "--drain":
                    options.Drain = ParseDouble(name, value, 0.1, 30);
                    break;
                case "--size":
                    options.Size = ParseInt(name, value, PayloadHeaderLength, 8192);
                    break;
                case "--peer":
                    options.Peer = ParseEndPoint(name, value);
                    break;
                case "--peer-bind":
                    options.PeerBind = IPAddress.TryParse(value, out IPAddress? bind) ? bind : throw new UsageException($"--peer-bind must be an IP address, not '{value}'");
                    break;
                case "--peer-netns":
                    options.PeerNetns = File.Exists($"/run/netns/{value}") ? value : throw new UsageException($"--peer-netns: no network namespace /run/netns/{value}");
                    break;
                case "--server-pid":
                    options.ServerPid = ParseInt(name, value, 1, int.MaxValue);
                    break;
                case "--peer-pid":
                    options.PeerPid = ParseInt(name, value, 1, int.MaxValue);
                    break;
                case "--sock-buf":
                    options.SocketBuffer = ParseInt(name, value, 4096, 1 << 30);
                    break;
                case "--tick-us":
                    options.TickMicroseconds = ParseInt(name, value, 10, 100_000);
                    break;
                case "--max-loss":
                    options.MaxLossPercent = ParseDouble(name, value, 0, 100);
                    break;
                case "--label":
                    options.Label = value;
                    break;
                default:
                    throw new UsageException($"unknown option {name}");
            }
        }

        if (options.Secret.Length == 0)
        {
            throw new UsageException("--secret is required");
        }

        if (options.OneWay && (options.Rate == 0 || options.Peer is not null))
        {
            throw new UsageException("--one-way needs --rate above 0 and the tool's own echo peer (no --peer)");
        }

        if (options.Warmup + options.Duration > MaxSeconds)
        {
            throw new UsageException($"--warmup + --duration must stay under {MaxSeconds} s (permissions expire at 300 s)");
        }

        return options;
    }

    private static IPEndPoint ParseEndPoint(string name, string value)
    {
        if (!IPEndPoint.TryParse(value, out IPEndPoint? endPoint) || endPoint.Port == 0)
        {
            throw new UsageException($"{name} must be IP:PORT or [IPv6]:PORT, not '{value}'");
        }

        return endPoint;
    }

    private static int ParseInt(string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int result) || result < min || result > max)
        {
            throw new UsageException($"{name} must be an integer in {min}..{max}, not '{value}'");
        }

        return result;
    }

    private static double ParseDouble(string name, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double result) || result < min || result > max)
        {
            throw new UsageException($"{name} must be a number in {min}..{max}, not '{value}'");
        }

        return result;
    }
}
