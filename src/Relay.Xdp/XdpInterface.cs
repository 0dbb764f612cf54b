using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Relay.Xdp.Native;

namespace Relay.Xdp;

/// <summary>The network interface the fast path attaches to, as this process's network namespace sees it.</summary>
public sealed record XdpInterface(string Name, int Index, int Mtu, IReadOnlyList<IPAddress> V4, IReadOnlyList<IPAddress> V6)
{
    /// <summary>Looks the interface up; throws <see cref="XdpException"/> when there is none of that name.</summary>
    public static XdpInterface Describe(string name)
    {
        uint index = LibBpf.if_nametoindex(name);
        if (index == 0)
        {
            var known = NetworkInterface.GetAllNetworkInterfaces().Select(n => n.Name).Order();
            throw new XdpException($"there is no network interface named '{name}' (this host has: {string.Join(", ", known)})");
        }

        var v4 = new List<IPAddress>();
        var v6 = new List<IPAddress>();
        NetworkInterface? nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name);
        foreach (UnicastIPAddressInformation unicast in (IEnumerable<UnicastIPAddressInformation>?)nic?.GetIPProperties().UnicastAddresses ?? [])
        {
            IPAddress address = unicast.Address;
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                v4.Add(address);
            }
            else if (address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv6LinkLocal && !address.IsIPv4MappedToIPv6
                     && !IPAddress.IsLoopback(address))
            {
                v6.Add(address); // link-local addresses cannot source relayed traffic
            }
        }

        return new XdpInterface(name, (int)index, LibBpf.InterfaceMtu(name) ?? 1500, v4, v6);
    }
}
