using System.Net;
using Relay.Core.Net;

namespace Relay.Xdp.Tests.Support;

/// <summary>
/// Four namespaces joined by veth pairs: client, peer and relay each hang off a router that forwards IPv4 and IPv6,
/// dual stack, private test ranges only. Names carry this process id and a counter, so parallel runs never meet;
/// everything is deleted by name on dispose (deleting a namespace deletes its veths).
/// </summary>
public sealed class RelayTopology : IDisposable
{
    private static int _instances;
    private readonly List<NetworkNamespace> _namespaces = new();

    private RelayTopology(string prefix) => Prefix = prefix;

    public string Prefix { get; }

    public NetworkNamespace Client { get; private set; } = null!;

    public NetworkNamespace Peer { get; private set; } = null!;

    public NetworkNamespace Relay { get; private set; } = null!;

    public NetworkNamespace Router { get; private set; } = null!;

    /// <summary>The router-side veth of the relay: native XDP_TX on the relay's veth needs an XDP program here.</summary>
    public const string RouterToRelay = "r3";

    public static IPAddress Address(string host, IpFamily family)
    {
        int subnet = host switch { "client" => 1, "peer" => 2, "relay" => 3, _ => throw new ArgumentOutOfRangeException(nameof(host)) };
        return IPAddress.Parse(family == IpFamily.V4 ? $"10.41.{subnet}.2" : $"fd41:{subnet}::2");
    }

    /// <summary>Builds the topology. <paramref name="peerXdpObject"/> is attached (section xdp) to the router's veth toward the relay.</summary>
    public static RelayTopology Create(string peerXdpObject)
    {
        var topology = new RelayTopology($"rx{Environment.ProcessId}-{Interlocked.Increment(ref _instances)}");
        try
        {
            topology.Build(peerXdpObject);
            return topology;
        }
        catch
        {
            topology.Dispose();
            throw;
        }
    }

    private void Build(string peerXdpObject)
    {
        NetworkNamespace Add(string role)
        {
            var ns = NetworkNamespace.Create($"{Prefix}-{role}");
            _namespaces.Add(ns);
            // Before any veth exists: IPv6 addresses must not sit in duplicate address detection when traffic starts.
            ns.Exec("sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.dad_transmits=0");
            ns.Exec("ip", "link", "set", "lo", "up");
            return ns;
        }

        Router = Add("router");
        Client = Add("client");
        Peer = Add("peer");
        Relay = Add("relay");
        Router.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");

        int subnet = 1;
        foreach (NetworkNamespace host in new[] { Client, Peer, Relay })
        {
            string routerSide = $"r{subnet}";
            Router.Exec("ip", "link", "add", routerSide, "type", "veth", "peer", "name", "eth0", "netns", host.Name);
            Router.Exec("ip", "addr", "add", $"10.41.{subnet}.1/24", "dev", routerSide);
            Router.Exec("ip", "addr", "add", $"fd41:{subnet}::1/64", "dev", routerSide, "nodad");
            Router.Exec("ip", "link", "set", routerSide, "up");
            host.Exec("ip", "addr", "add", $"10.41.{subnet}.2/24", "dev", "eth0");
            host.Exec("ip", "addr", "add", $"fd41:{subnet}::2/64", "dev", "eth0", "nodad");
            host.Exec("ip", "link", "set", "eth0", "up");
            host.Exec("ip", "route", "add", "default", "via", $"10.41.{subnet}.1");
            host.Exec("ip", "-6", "route", "add", "default", "via", $"fd41:{subnet}::1");
            subnet++;
        }

        // Senders compute full UDP checksums, as a real NIC's traffic has them: with veth's checksum offload a
        // datagram carries only a partial one, which an XDP rewrite cannot update. No super-packets either.
        foreach (NetworkNamespace sender in new[] { Client, Peer })
        {
            sender.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off");
        }

        Router.Exec("ip", "link", "set", "dev", RouterToRelay, "xdp", "obj", peerXdpObject, "sec", "xdp");
    }

    public void Dispose()
    {
        for (int i = _namespaces.Count - 1; i >= 0; i--)
        {
            try
            {
                _namespaces[i].Dispose();
            }
            catch (InvalidOperationException)
            {
                // Keep deleting the others; a namespace already gone is not an error worth hiding the test's.
            }
        }
    }
}
