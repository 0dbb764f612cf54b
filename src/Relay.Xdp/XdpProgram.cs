using System.Runtime.InteropServices;
using Relay.Xdp.Maps;
using Relay.Xdp.Native;

namespace Relay.Xdp;

public enum XdpAttachMode
{
    /// <summary>In the driver (native XDP): fastest; the interface's driver must support it.</summary>
    Driver,

    /// <summary>In the kernel's generic path (SKB mode): works on any interface, slower.</summary>
    Generic,
}

/// <summary>
/// The loaded relay_xdp object: its program and maps, and once attached the bpf link that keeps it on an
/// interface. The link is a file descriptor: when the process exits, however it exits, the kernel detaches the
/// program, so a crashed relay never leaves a stale fast path behind.
/// </summary>
internal sealed unsafe class XdpProgram : IDisposable
{
    public const string ObjectFileName = "relay_xdp.bpf.o";
    public const string ProgramName = "relay_xdp";

    private nint _object;
    private int _linkFd = -1;

    private XdpProgram(nint obj, int programFd)
    {
        _object = obj;
        ProgramFd = programFd;
        ClientChannels = new BpfMap<ClientChannelKey, ClientChannelValue>("client_channels", MapFd("client_channels"));
        PeerBindings = new BpfMap<PeerBindingKey, PeerBindingValue>("peer_bindings", MapFd("peer_bindings"));
        LivePorts = new BpfMap<uint, uint>("live_ports", MapFd("live_ports"));
        Config = new BpfMap<uint, RelayConfig>("relay_config", MapFd("relay_config"));
        Stats = new PerCpuArray<RelayStats>("relay_stats", MapFd("relay_stats"));
        PortBudgets = new BpfMap<uint, PortBudget>("port_budgets", MapFd("port_budgets"));
    }

    public int ProgramFd { get; }

    public BpfMap<ClientChannelKey, ClientChannelValue> ClientChannels { get; }

    public BpfMap<PeerBindingKey, PeerBindingValue> PeerBindings { get; }

    public BpfMap<uint, uint> LivePorts { get; }

    public BpfMap<uint, RelayConfig> Config { get; }

    public PerCpuArray<RelayStats> Stats { get; }

    public BpfMap<uint, PortBudget> PortBudgets { get; }

    public bool Attached => _linkFd >= 0;

    /// <summary>The object shipped next to the relay's binary.</summary>
    public static string DefaultObjectPath => Path.Combine(AppContext.BaseDirectory, ObjectFileName);

    /// <summary>Opens and loads the object (the verifier runs here). Throws <see cref="XdpException"/> with the cause.</summary>
    public static XdpProgram Load(string objectPath)
    {
        if (!File.Exists(objectPath))
        {
            throw new XdpException($"the XDP program {objectPath} is missing: this build was made without clang and the libbpf headers. Install them (apt-get install clang llvm libbpf-dev) and rebuild");
        }

        nint obj;
        try
        {
            obj = LibBpf.bpf_object__open_file(objectPath, 0);
        }
        catch (DllNotFoundException)
        {
            throw new XdpException("libbpf.so.1 is not installed; install it (apt-get install libbpf1)");
        }

        if (obj == 0)
        {
            throw new XdpException($"cannot open {objectPath}: {LibBpf.ErrorText(Marshal.GetLastPInvokeError())}");
        }

        var (result, log) = LibBpfLog.Capture(() => LibBpf.bpf_object__load(obj));
        if (result != 0)
        {
            LibBpf.bpf_object__close(obj);
            throw new XdpException(LoadFailure(result, log));
        }

        nint program = LibBpf.bpf_object__find_program_by_name(obj, ProgramName);
        if (program == 0)
        {
            LibBpf.bpf_object__close(obj);
            throw new XdpException($"{objectPath} has no program named {ProgramName}");
        }

        try
        {
            return new XdpProgram(obj, LibBpf.bpf_program__fd(program));
        }
        catch
        {
            LibBpf.bpf_object__close(obj);
            throw;
        }
    }

    private static string LoadFailure(int result, IReadOnlyList<string> log)
    {
        int errno = -result;
        if (errno is 1) // EPERM
        {
            return "loading the XDP program was refused (operation not permitted): run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON";
        }

        // A verifier rejection ends its log with the offending instruction and the reason: show the tail.
        int begin = log.ToList().FindLastIndex(l => l.Contains("BEGIN PROG LOAD LOG", StringComparison.Ordinal));
        var verifier = begin >= 0 ? log.Skip(begin + 1).TakeWhile(l => !l.Contains("END PROG LOAD LOG", StringComparison.Ordinal)).ToList() : [];
        var tail = (verifier.Count > 0 ? verifier : log).TakeLast(12);
        return $"the kernel refused the XDP program ({LibBpf.ErrorText(errno)}){(verifier.Count > 0 ? "; the verifier said" : "")}:" + Environment.NewLine
            + string.Join(Environment.NewLine, tail.Select(l => "    " + l));
    }

    /// <summary>Attaches through a bpf link. Throws <see cref="XdpException"/> naming the cause.</summary>
    public void Attach(int ifindex, string interfaceName, XdpAttachMode mode)
    {
        var options = new LibBpf.LinkCreateOptions
        {
            Size = (nuint)sizeof(LibBpf.LinkCreateOptions),
            Flags = mode == XdpAttachMode.Driver ? LibBpf.XdpFlagsDriverMode : LibBpf.XdpFlagsSkbMode,
        };
        int fd = LibBpf.bpf_link_create(ProgramFd, ifindex, LibBpf.AttachTypeXdp, &options);
        if (fd < 0)
        {
            int errno = -fd;
            string cause = errno switch
            {
                95 when mode == XdpAttachMode.Driver => $"the driver of {interfaceName} has no native XDP support; use --ebpf-attach-mode generic",
                16 => $"{interfaceName} already has an XDP program attached (see 'ip link show {interfaceName}'); detach it first",
                1 => "operation not permitted: run as root or grant CAP_NET_ADMIN and CAP_BPF",
                22 => $"the kernel refused the attachment ({LibBpf.ErrorText(errno)}); bpf links for XDP need Linux 5.9 or later",
                _ => LibBpf.ErrorText(errno),
            };
            throw new XdpException($"cannot attach the XDP program to {interfaceName} in {mode.ToString().ToLowerInvariant()} mode: {cause}");
        }

        _linkFd = fd;
    }

    /// <summary>The kernel's run statistics (zero unless kernel.bpf_stats_enabled is 1) and the program id.</summary>
    public (uint Id, ulong RunCount, ulong RunTimeNs) Info()
    {
        byte* info = stackalloc byte[256];
        new Span<byte>(info, 256).Clear();
        uint length = 232;
        if (LibBpf.bpf_obj_get_info_by_fd(ProgramFd, info, &length) != 0)
        {
            return default;
        }

        return (*(uint*)(info + 4), *(ulong*)(info + 200), *(ulong*)(info + 192));
    }

    /// <summary>
    /// Runs the program on <paramref name="frame"/> without any interface (BPF_PROG_TEST_RUN), <paramref name="repeat"/>
    /// times. Returns the XDP action, the frame as the program left it, and the kernel's mean time per run.
    /// </summary>
    public (uint Action, byte[] Output, uint NanosecondsPerRun) TestRun(ReadOnlySpan<byte> frame, int repeat = 1)
    {
        byte[] output = new byte[frame.Length + 256];
        fixed (byte* input = frame)
        fixed (byte* result = output)
        {
            var options = new LibBpf.TestRunOptions
            {
                Size = (nuint)sizeof(LibBpf.TestRunOptions),
                DataIn = input,
                DataSizeIn = (uint)frame.Length,
                DataOut = result,
                DataSizeOut = (uint)output.Length,
                Repeat = repeat,
            };
            int error = LibBpf.bpf_prog_test_run_opts(ProgramFd, &options);
            if (error != 0)
            {
                throw new XdpException($"BPF_PROG_TEST_RUN failed: {LibBpf.ErrorText(error)}");
            }

            return (options.ReturnValue, output[..(int)options.DataSizeOut], options.Duration);
        }
    }

    private int MapFd(string name)
    {
        nint map = LibBpf.bpf_object__find_map_by_name(_object, name);
        int fd = map == 0 ? -1 : LibBpf.bpf_map__fd(map);
        return fd >= 0 ? fd : throw new XdpException($"the XDP object has no map named {name}");
    }

    public void Dispose()
    {
        if (_linkFd >= 0)
        {
            LibBpf.close(_linkFd); // detaches
            _linkFd = -1;
        }

        if (_object != 0)
        {
            LibBpf.bpf_object__close(_object);
            _object = 0;
        }
    }
}

/// <summary>The fast path cannot start; the message is for the operator.</summary>
public sealed class XdpException(string message) : Exception(message);
