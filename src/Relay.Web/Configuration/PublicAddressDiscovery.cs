using System.Net;
using System.Net.Sockets;

namespace Relay.Web.Configuration;

/// <summary>
/// Finds the address of the default-route interface, for a relay started without --public-ip4-addr or
/// --public-ip6-addr: a UDP socket is "connected" to a well-known public address (nothing is sent; connect on UDP
/// only asks the routing table) and its local address is read back.
/// </summary>
public static class PublicAddressDiscovery
{
    private static readonly IPEndPoint ProbeV4 = new(IPAddress.Parse("192.0.2.1"), 9); // TEST-NET-1; any global route matches
    private static readonly IPEndPoint ProbeV6 = new(IPAddress.Parse("2001:db8::1"), 9); // documentation prefix

    public static IPAddress? DefaultRouteAddress(AddressFamily family)
    {
        try
        {
            using var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(family == AddressFamily.InterNetwork ? ProbeV4 : ProbeV6);
            if (socket.LocalEndPoint is not IPEndPoint local || local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any))
            {
                return null;
            }

            // Link-local IPv6 addresses cannot be advertised to clients elsewhere.
            return local.Address.IsIPv6LinkLocal || local.Address.IsIPv6SiteLocal ? null : local.Address;
        }
        catch (SocketException)
        {
            return null; // no route for this family
        }
    }
}
