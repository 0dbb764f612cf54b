using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Relay.TestSupport;
using Relay.Xdp.Maps;

namespace Relay.Xdp.Tests;

/// <summary>
/// The C structs (as the compiled program sees them: the BTF clang put in relay_xdp.bpf.o) and their C# mirrors
/// agree byte for byte: the same fields, in the same order, at the same offsets, of the same sizes. The enums and
/// constants of relay_consts.h agree with their C# counterparts too.
/// </summary>
public sealed partial class StructLayoutTests
{
    public static TheoryData<string> SharedStructs => new()
    {
        "client_channel_key", "client_channel_value", "peer_binding_key", "peer_binding_value", "relay_config", "relay_stats",
        "port_budget",
    };

    [RequiresTheory("clang", "bpftool")]
    [MemberData(nameof(SharedStructs))]
    public void Csharp_struct_matches_the_btf_of_the_program(string name)
    {
        var types = BtfTypes();
        JsonElement btf = types.Values.Single(t => t.GetProperty("kind").GetString() == "STRUCT" && t.GetProperty("name").GetString() == name);
        Type mirror = typeof(XdpConstants).Assembly.GetType("Relay.Xdp.Maps." + Pascal(name))
            ?? throw new Xunit.Sdk.XunitException($"no C# struct Relay.Xdp.Maps.{Pascal(name)} mirrors {name}");

        Assert.Equal(btf.GetProperty("size").GetInt32(), Marshal.SizeOf(mirror));
        FieldInfo[] fields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        JsonElement[] members = btf.GetProperty("members").EnumerateArray().ToArray();
        Assert.Equal(members.Select(m => Pascal(m.GetProperty("name").GetString()!)), fields.Select(f => f.Name));
        foreach (JsonElement member in members)
        {
            string field = Pascal(member.GetProperty("name").GetString()!);
            Assert.Equal(member.GetProperty("bits_offset").GetInt32() / 8, (int)Marshal.OffsetOf(mirror, field));
            Assert.Equal(SizeOf(types, member.GetProperty("type_id").GetInt32()), Marshal.SizeOf(mirror.GetField(field)!.FieldType));
        }
    }

    [Theory]
    [InlineData("relay_pass_reason", typeof(XdpPassReason))]
    [InlineData("relay_drop_reason", typeof(XdpDropReason))]
    public void Reason_enums_match_the_header(string name, Type mirror)
    {
        Match match = Regex.Match(Header(), @"enum\s+" + name + @"\s*\{(?<body>[^}]*)\}");
        Assert.True(match.Success, $"enum {name} not found in relay_consts.h");
        var names = EnumMember().Matches(match.Groups["body"].Value).Select(m => m.Groups[1].Value).ToList();
        Assert.EndsWith("REASONS", names[^1]); // the count sentinel
        Assert.Equal(names[..^1].Select(n => Pascal(n.Split('_', 3)[2])), Enum.GetNames(mirror));
        int count = mirror == typeof(XdpPassReason) ? XdpConstants.PassReasons : XdpConstants.DropReasons;
        Assert.Equal(names.Count - 1, count);
    }

    [Theory]
    [InlineData("RELAY_FAMILY_V4", XdpConstants.FamilyV4)]
    [InlineData("RELAY_FAMILY_V6", XdpConstants.FamilyV6)]
    [InlineData("RELAY_MAX_BINDINGS", XdpConstants.MaxBindings)]
    [InlineData("RELAY_DIRECTIONS", XdpConstants.Directions)]
    [InlineData("RELAY_ROUTES", XdpConstants.Routes)]
    [InlineData("RELAY_CFG_PUBLIC_V4", XdpConstants.ConfigPublicV4)]
    [InlineData("RELAY_CFG_PUBLIC_V6", XdpConstants.ConfigPublicV6)]
    [InlineData("RELAY_CFG_INTERFACE_V4", XdpConstants.ConfigInterfaceV4)]
    [InlineData("RELAY_CFG_INTERFACE_V6", XdpConstants.ConfigInterfaceV6)]
    [InlineData("RELAY_LIVE_V4", XdpConstants.LiveV4)]
    [InlineData("RELAY_LIVE_V6", XdpConstants.LiveV6)]
    [InlineData("RELAY_NS_PER_SECOND", XdpConstants.NsPerSecond)]
    public void Constants_match_the_header(string name, long value)
    {
        Match match = Regex.Match(Header(), @"#define\s+" + name + @"\s+\(?(?<value>\d+)(u\s*<<\s*(?<shift>\d+))?\)?");
        Assert.True(match.Success, $"#define {name} not found in relay_consts.h");
        long defined = long.Parse(match.Groups["value"].Value) << (match.Groups["shift"].Success ? int.Parse(match.Groups["shift"].Value) : 0);
        Assert.Equal(defined, value);
    }

    /// <summary>Bytes a BTF type occupies (ints, typedefs, arrays of them).</summary>
    private static int SizeOf(Dictionary<int, JsonElement> types, int id)
    {
        JsonElement type = types[id];
        return type.GetProperty("kind").GetString() switch
        {
            "INT" or "STRUCT" or "ENUM" => type.GetProperty("size").GetInt32(),
            "TYPEDEF" or "VOLATILE" or "CONST" => SizeOf(types, type.GetProperty("type_id").GetInt32()),
            "ARRAY" => type.GetProperty("nr_elems").GetInt32() * SizeOf(types, type.GetProperty("type_id").GetInt32()),
            var kind => throw new InvalidOperationException($"unexpected BTF kind {kind}"),
        };
    }

    private static Dictionary<int, JsonElement> BtfTypes()
    {
        TestEnvironment.Require(tools: ["clang", "bpftool"]);
        string path = Path.Combine(AppContext.BaseDirectory, "relay_xdp.bpf.o");
        Assert.True(File.Exists(path), $"{path} was not built: the BPF toolchain (clang, libbpf-dev) is missing");
        var info = new ProcessStartInfo(TestEnvironment.FindTool("bpftool")!, ["-j", "btf", "dump", "file", path]) { RedirectStandardOutput = true };
        using var bpftool = Process.Start(info)!;
        string json = bpftool.StandardOutput.ReadToEnd();
        bpftool.WaitForExit();
        Assert.Equal(0, bpftool.ExitCode);
        return JsonDocument.Parse(json).RootElement.GetProperty("types").EnumerateArray().ToDictionary(t => t.GetProperty("id").GetInt32(), t => t.Clone());
    }

    private static string Header() => File.ReadAllText(Path.Combine(Repository.Root, "bpf", "relay_consts.h"));


    /// <summary>"client_channel_key" and "CLIENT_CHANNEL_KEY" become "ClientChannelKey".</summary>
    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(w => char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant()));

    [GeneratedRegex(@"(RELAY_[A-Z0-9_]+)")]
    private static partial Regex EnumMember();
}
