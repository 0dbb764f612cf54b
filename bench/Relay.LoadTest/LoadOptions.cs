using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Relay.Core.Auth;

namespace Relay.LoadTest;

/// <summary>A command-line mistake: printed with the usage text, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Command-line options of the load tool.</summary>
internal sealed class LoadOptions
{
    public const int PayloadHeaderLength = 25; // run id, allocation, sequence, timestamp, phase
    public const int MaxAllocations = 20_000;  // one socket each; a relay's default port range holds 16,384
    public const int MaxSeconds = 250;         // per run or soak round: permissions live 300 s and the tool never refreshes them
    public const int MaxSourceAddresses = 254; // 127.0.0.1 .. 127.0.0.254

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

    /// <summary>Receive threads; each waits for its share of the allocation sockets with epoll.</summary>
    public int Receivers { get; private set; } = 2;

    /// <summary>Client sockets bind round robin to 127.0.0.1 .. 127.0.0.N; 0 = the kernel chooses.</summary>
    public int SourceAddresses { get; private set; }

    /// <summary>Soak mode: rounds of allocate, relay, release, with the server's RSS and tables checked.</summary>
    public bool Soak { get; private set; }

    public int Rounds { get; private set; } = 2;

    /// <summary>Base URL of the relay's control endpoint (admin API), where /admin/status reports the tables.</summary>
    public Uri Admin { get; private set; } = new("http://127.0.0.1:9999");

    public string? AdminToken { get; private set; } = Environment.GetEnvironmentVariable("ADMIN_TOKEN");

    /// <summary>
    /// Allowed VmRSS growth from the end of round 1 to the end of the last round, in MiB. Even after a full GC the
    /// runtime keeps free heap regions (4 MiB each) committed for reuse: RssAnon stepped by 4.4-6.5 MiB between
    /// some rounds and not others, flat over many rounds. Code keeps arriving too (tier-1 JIT, pages of the binaries
    /// touched late: ~1.5 MiB). 16 MiB holds two such steps and the code; a relay keeping even half of what an
    /// allocation holds (~6-7 KB, so ~15-17 MiB for 5,000) fails.
    /// </summary>
    public double RssToleranceMiB { get; private set; } = 16;

    /// <summary>Soak: induce a full GC in the (.NET) server before each RSS sample, and wait for it on /metrics.</summary>
    public bool InduceGc { get; private set; }

    /// <summary>The server's Prometheus endpoint, read for dotnet_gc_collections_total with --induce-gc.</summary>
    public Uri Metrics { get; private set; } = new("http://127.0.0.1:8080/metrics");

    /// <summary>Seconds the soak waits for the server's tables to reach the expected counts.</summary>
    public double Settle { get; private set; } = 15;

    /// <summary>The address allocation <paramref name="index"/> binds to, or null for the kernel's choice.</summary>
    public IPAddress? SourceAddress(int index) =>
        SourceAddresses == 0 ? null : new IPAddress(new byte[] { 127, 0, 0, (byte)(1 + (index % SourceAddresses)) });

    public const string Usage = """
        relay-loadtest: TURN/UDP load generator (ChannelData through a TURN server to a UDP echo peer and back).

        Usage: relay-loadtest --secret SECRET [options]

          --server HOST:PORT      TURN server (default 127.0.0.1:3478; [::1]:3478 for IPv6)
          --secret SECRET         shared secret of the server (required)
          --auth-scheme S         turn-rest (default: user "<expiry>:<user>", password base64(HMAC-SHA1(secret, user)))
                                  or firezone (user "<expiry>:<user><i>", password base64(SHA-256("expiry:secret:salt")))
          --user NAME             user part of the username (default load)
          --allocations N         allocations, one UDP socket and one channel each (default 10, max 20000)
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
          --receivers N           receive threads; each serves every Nth allocation socket with epoll (default 2)
          --source-addresses N    bind the client sockets round robin to 127.0.0.1 .. 127.0.0.N (max 254; IPv4
                                  loopback servers only), so per-source-IP limits such as the relay's
                                  --unauthenticated-rate see N clients instead of one (default: kernel's choice)
          --json                  print the report as one JSON object on stdout
          --quiet                 no per-second progress on stderr

        Soak (--soak): --rounds times: allocate all, check the server's tables, relay for --warmup + --duration,
        release every allocation (Refresh LIFETIME 0) and wait until the tables are empty. Records the server's RSS
        (/proc/PID/status VmRSS) at each step, reports RSS per allocation, and fails (exit 1) on any loss, on tables
        that do not come back to 0, or when the RSS after the last round exceeds the RSS after round 1 by more than
        --rss-tolerance. Needs --server-pid and the admin API. Each round stays under 250 s.
          --soak                  run the soak instead of one measurement
          --rounds N              soak rounds (default 2, min 2, max 10)
          --admin URL             the relay's control endpoint, for /admin/status (default http://127.0.0.1:9999)
          --admin-token TOKEN     bearer token of the admin API (default: $ADMIN_TOKEN; none needed on loopback)
          --rss-tolerance MIB     allowed VmRSS growth from the end of round 1 to the end of the last (default 16)
          --settle S              how long the tables may take to reach the expected counts (default 15)
          --induce-gc             before each RSS sample, induce a full GC in the server (a .NET process: an
                                  EventPipe session with the GCHeapCollect keyword, as dotnet-gcdump does) and wait
                                  until dotnet_gc_collections_total{gen2} on --metrics counts it. Without it RSS
                                  includes whatever garbage the GC has not collected yet (up to its gen0 budget,
                                  about the L3 cache size), which says more about GC timing than about leaks
          --metrics URL           the server's Prometheus endpoint (default http://127.0.0.1:8080/metrics)

        Reported: echoes/s = round trips/s (client -> relay -> peer -> relay -> client). Each echo is 2 relayed
        datagrams (ChannelData -> UDP and UDP -> ChannelData), also reported as relayed_datagrams_per_s.
        Exit codes: 0 measured, 1 loss above --max-loss or nothing echoed (soak: any check failed), 2 usage or set-up
        failure.
        """;

    /// <summary>Sets the switch (a flag without a value) called <paramref name="name"/>; false when it is not one.</summary>
    private bool SetSwitch(string name)
    {
        switch (name)
        {
            case "--json":
                Json = true;
                return true;
            case "--quiet":
                Quiet = true;
                return true;
            case "--one-way":
                OneWay = true;
                return true;
            case "--soak":
                Soak = true;
                return true;
            case "--induce-gc":
                InduceGc = true;
                return true;
            default:
                return false;
        }
    }

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

            if (options.SetSwitch(name))
            {
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
                case "--receivers":
                    options.Receivers = ParseInt(name, value, 1, 64);
                    break;
                case "--source-addresses":
                    options.SourceAddresses = ParseInt(name, value, 1, MaxSourceAddresses);
                    break;
                case "--rounds":
                    options.Rounds = ParseInt(name, value, 2, 10);
                    break;
                case "--admin":
                    options.Admin = Uri.TryCreate(value, UriKind.Absolute, out Uri? admin) && admin.Scheme is "http" or "https"
                        ? admin
                        : throw new UsageException($"--admin must be an http(s) URL such as http://127.0.0.1:9999, not '{value}'");
                    break;
                case "--metrics":
                    options.Metrics = Uri.TryCreate(value, UriKind.Absolute, out Uri? metrics) && metrics.Scheme is "http" or "https"
                        ? metrics
                        : throw new UsageException($"--metrics must be an http(s) URL such as http://127.0.0.1:8080/metrics, not '{value}'");
                    break;
                case "--admin-token":
                    options.AdminToken = value;
                    break;
                case "--rss-tolerance":
                    options.RssToleranceMiB = ParseDouble(name, value, 0, 65536);
                    break;
                case "--settle":
                    options.Settle = ParseDouble(name, value, 1, 300);
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

        if (options.SourceAddresses > 0 && !(options.Server.AddressFamily == AddressFamily.InterNetwork && IPAddress.IsLoopback(options.Server.Address)))
        {
            throw new UsageException($"--source-addresses spreads clients over 127.0.0.x, so it needs an IPv4 loopback --server, not {options.Server}");
        }

        if (options.Soak && options.ServerPid is null)
        {
            throw new UsageException("--soak needs --server-pid (the server's RSS is what it measures)");
        }

        if (options.InduceGc && !options.Soak)
        {
            throw new UsageException("--induce-gc belongs to --soak");
        }

        if (options.Soak && options.OneWay)
        {
            throw new UsageException("--soak relays both ways; drop --one-way");
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
