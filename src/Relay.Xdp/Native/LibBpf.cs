using System.Runtime.InteropServices;

namespace Relay.Xdp.Native;

/// <summary>
/// libbpf 1.x (<c>libbpf.so.1</c>, Debian's libbpf1) and the few libc calls the loader needs. Calls returning int
/// give 0 or a negative errno; calls returning a pointer give null and set errno.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Library = "libbpf.so.1";
    private const string LibC = "libc";

    /// <summary>bpf_attach_type BPF_XDP.</summary>
    public const int AttachTypeXdp = 37;

    public const uint XdpFlagsSkbMode = 1 << 1;
    public const uint XdpFlagsDriverMode = 1 << 2;

    public const ulong UpdateAny = 0;

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint bpf_object__open_file(string path, nint options);

    [LibraryImport(Library)]
    public static partial int bpf_object__load(nint obj);

    [LibraryImport(Library)]
    public static partial void bpf_object__close(nint obj);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_program_by_name(nint obj, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Library)]
    public static partial int bpf_program__fd(nint program);

    [LibraryImport(Library)]
    public static partial int bpf_map__fd(nint map);

    [LibraryImport(Library)]
    public static partial int bpf_link_create(int programFd, int targetFd, int attachType, LinkCreateOptions* options);

    [LibraryImport(Library)]
    public static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library)]
    public static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Library)]
    public static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Library)]
    public static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

    [LibraryImport(Library)]
    public static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* infoLength);

    [LibraryImport(Library)]
    public static partial int bpf_prog_test_run_opts(int programFd, TestRunOptions* options);

    [LibraryImport(Library)]
    public static partial int libbpf_num_possible_cpus();

    [LibraryImport(Library)]
    public static partial int libbpf_strerror(int error, byte* buffer, nuint size);

    [LibraryImport(Library)]
    public static partial nint libbpf_set_print(delegate* unmanaged[Cdecl]<int, byte*, nint, int> printer);

    [LibraryImport(LibC)]
    public static partial int vsnprintf(byte* buffer, nuint size, byte* format, nint arguments);

    [LibraryImport(LibC, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(LibC, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial uint if_nametoindex(string name);

    [LibraryImport(LibC, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(LibC, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    /// <summary>The MTU of an interface of this process's network namespace (SIOCGIFMTU), or null.</summary>
    public static int? InterfaceMtu(string name)
    {
        const int AfInet = 2, SockDgram = 2;
        const nuint SiocGifMtu = 0x8921;
        byte* request = stackalloc byte[40]; // struct ifreq: name[16], then the union holding ifr_mtu
        new Span<byte>(request, 40).Clear();
        int length = System.Text.Encoding.UTF8.GetBytes(name, new Span<byte>(request, 15));
        request[length] = 0;
        int fd = socket(AfInet, SockDgram, 0);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            return ioctl(fd, SiocGifMtu, request) == 0 ? *(int*)(request + 16) : null;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>libbpf's text for a (positive or negative) errno.</summary>
    public static string ErrorText(int error)
    {
        byte* buffer = stackalloc byte[256];
        return libbpf_strerror(Math.Abs(error), buffer, 256) == 0 ? Marshal.PtrToStringUTF8((nint)buffer) ?? $"errno {error}" : $"errno {Math.Abs(error)}";
    }

    /// <summary>struct bpf_link_create_opts (libbpf 1.1): only <c>sz</c> and <c>flags</c> are used; the rest stays zero.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    public struct LinkCreateOptions
    {
        public nuint Size;
        public uint Flags;
    }

    /// <summary>struct bpf_test_run_opts (libbpf 1.1).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TestRunOptions
    {
        public nuint Size;
        public void* DataIn;
        public void* DataOut;
        public uint DataSizeIn;
        public uint DataSizeOut;
        public void* ContextIn;
        public void* ContextOut;
        public uint ContextSizeIn;
        public uint ContextSizeOut;
        public uint ReturnValue;
        public int Repeat;
        public uint Duration;
        public uint Flags;
        public uint Cpu;
        public uint BatchSize;
    }
}
