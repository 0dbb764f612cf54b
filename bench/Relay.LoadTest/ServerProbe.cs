using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Relay.LoadTest;

/// <summary>The server's engine tables at one moment, from the relay's GET /admin/status.</summary>
internal readonly record struct ServerTables(int Allocations, int Channels, int Permissions)
{
    public bool AllEqual(int count) => Allocations == count && Channels == count && Permissions == count;

    public override string ToString() => $"{Allocations} allocations, {Channels} channels, {Permissions} permissions";
}

/// <summary>The server's resident memory (/proc/PID/status): VmRSS and its anonymous, file and shared-memory parts.</summary>
internal readonly record struct ServerMemory(long RssKiB, long AnonKiB, long FileKiB, long ShmemKiB);

/// <summary>One observation of the server: its resident memory and its tables.</summary>
internal readonly record struct ServerSample(ServerMemory Memory, ServerTables Tables)
{
    public long RssKiB => Memory.RssKiB;
}

/// <summary>
/// Reads the server under test: VmRSS from /proc/PID/status and the live allocation, channel and permission counts
/// from the admin API (this relay's /admin/status; the same counts as the relay_active_* gauges of /metrics).
/// With a <see cref="ServerGc"/>, every sample first has the server run a full GC.
/// </summary>
internal sealed class ServerProbe : IDisposable
{
    private static readonly TimeSpan GcWait = TimeSpan.FromSeconds(30);
    private readonly int _pid;
    private readonly HttpClient _http;
    private readonly ServerGc? _gc;

    public ServerProbe(int pid, Uri admin, string? token, ServerGc? gc)
    {
        _pid = pid;
        _gc = gc;
        _http = new HttpClient { BaseAddress = admin, Timeout = TimeSpan.FromSeconds(10) };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public int InducedCollections => _gc?.Induced ?? 0;

    public ServerSample Sample()
    {
        _gc?.Collect(GcWait);
        return new(ReadMemory(), ReadTables());
    }

    /// <summary>Polls the tables until each holds <paramref name="count"/> entries or <paramref name="within"/> passes.</summary>
    public ServerSample WaitForTables(int count, TimeSpan within)
    {
        DateTime deadline = DateTime.UtcNow + within;
        while (true)
        {
            ServerTables tables = ReadTables();
            if (tables.AllEqual(count) || DateTime.UtcNow > deadline)
            {
                _gc?.Collect(GcWait);
                return new ServerSample(ReadMemory(), tables);
            }

            Thread.Sleep(50);
        }
    }

    public ServerMemory ReadMemory()
    {
        string path = $"/proc/{_pid}/status";
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new SetupException($"cannot read {path} (is --server-pid {_pid} running?): {exception.Message}");
        }

        long Field(string name)
        {
            foreach (string line in lines)
            {
                if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] == ':')
                {
                    string kib = line[(name.Length + 1)..].Trim().Split(' ')[0];
                    return long.Parse(kib, NumberStyles.None, CultureInfo.InvariantCulture);
                }
            }

            throw new SetupException($"{path} has no {name} line");
        }

        return new ServerMemory(Field("VmRSS"), Field("RssAnon"), Field("RssFile"), Field("RssShmem"));
    }

    public ServerTables ReadTables()
    {
        string json;
        try
        {
            using HttpResponseMessage response = _http.GetAsync("admin/status").GetAwaiter().GetResult();
            json = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                throw new SetupException($"GET {_http.BaseAddress}admin/status answered {(int)response.StatusCode}{((int)response.StatusCode == 401 ? " (pass --admin-token)" : string.Empty)}: {json}");
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            throw new SetupException($"GET {_http.BaseAddress}admin/status failed (is --admin the relay's --control-endpoint?): {exception.Message}");
        }

        using var document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        return new ServerTables(Count(root, "allocations"), Count(root, "channels"), Count(root, "permissions"));
    }

    private int Count(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) && value.TryGetInt32(out int count)
            ? count
            : throw new SetupException($"{_http.BaseAddress}admin/status has no integer '{name}'");

    public void Dispose()
    {
        _http.Dispose();
        _gc?.Dispose();
    }
}
