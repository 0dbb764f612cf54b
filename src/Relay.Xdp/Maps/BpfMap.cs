using Relay.Xdp.Native;

namespace Relay.Xdp.Maps;

/// <summary>
/// Typed access to one BPF map of a loaded object (the object owns the descriptor). Lookups and updates are
/// syscalls: safe from any thread, never on a per-packet path.
/// </summary>
internal sealed unsafe class BpfMap<TKey, TValue>
    where TKey : unmanaged
    where TValue : unmanaged
{
    public BpfMap(string name, int fd)
    {
        Name = name;
        Fd = fd;
    }

    public string Name { get; }

    public int Fd { get; }

    public bool TryLookup(in TKey key, out TValue value)
    {
        TValue found = default;
        fixed (TKey* k = &key)
        {
            int result = LibBpf.bpf_map_lookup_elem(Fd, k, &found);
            value = found;
            return result == 0;
        }
    }

    /// <summary>Creates or replaces the entry; returns 0 or a negative errno (E2BIG when the map is full).</summary>
    public int Update(in TKey key, in TValue value, ulong flags = LibBpf.UpdateAny)
    {
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
        {
            return LibBpf.bpf_map_update_elem(Fd, k, v, flags);
        }
    }

    public bool Delete(in TKey key)
    {
        fixed (TKey* k = &key)
        {
            return LibBpf.bpf_map_delete_elem(Fd, k) == 0;
        }
    }

    /// <summary>Every key, in the kernel's order (entries added meanwhile may be missed; none is repeated).</summary>
    public List<TKey> Keys()
    {
        var keys = new List<TKey>();
        TKey next = default;
        TKey* previous = null;
        TKey current = default;
        while (LibBpf.bpf_map_get_next_key(Fd, previous, &next) == 0)
        {
            keys.Add(next);
            current = next;
            previous = &current;
        }

        return keys;
    }
}

/// <summary>A per-CPU array map: one value per possible CPU for each index.</summary>
internal sealed unsafe class PerCpuArray<TValue>
    where TValue : unmanaged
{
    private readonly int _cpus = LibBpf.libbpf_num_possible_cpus();

    public PerCpuArray(string name, int fd)
    {
        Name = name;
        Fd = fd;
    }

    public string Name { get; }

    public int Fd { get; }

    public int Cpus => _cpus;

    /// <summary>The values of every CPU at <paramref name="index"/>.</summary>
    public TValue[] Read(uint index)
    {
        // The kernel writes each CPU's value at an 8-byte aligned stride.
        int stride = (sizeof(TValue) + 7) & ~7;
        byte[] buffer = new byte[stride * _cpus];
        fixed (byte* values = buffer)
        {
            if (LibBpf.bpf_map_lookup_elem(Fd, &index, values) != 0)
            {
                return new TValue[_cpus];
            }

            var result = new TValue[_cpus];
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                result[cpu] = *(TValue*)(values + (cpu * stride));
            }

            return result;
        }
    }

    /// <summary>Sets every CPU's value at <paramref name="index"/>.</summary>
    public int WriteAll(uint index, in TValue value)
    {
        int stride = (sizeof(TValue) + 7) & ~7;
        byte[] buffer = new byte[stride * _cpus];
        fixed (byte* values = buffer)
        {
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                *(TValue*)(values + (cpu * stride)) = value;
            }

            return LibBpf.bpf_map_update_elem(Fd, &index, values, LibBpf.UpdateAny);
        }
    }
}
