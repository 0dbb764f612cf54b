using Relay.Core.FastPath;
using Relay.Xdp.Maps;
using Relay.Xdp.Native;

namespace Relay.Xdp;

public sealed partial class XdpFastPath
{
    /// <summary>
    /// Once a second: announces each cross-family binding whose first packet went through XDP (so operators see
    /// that IPv4 <-> IPv6 traffic is relayed in the kernel), and follows MTU changes of the interface.
    /// </summary>
    private void Watch()
    {
        try
        {
            lock (_gate)
            {
                for (int i = _awaitingFirstTraffic.Count - 1; i >= 0; i--)
                {
                    XdpBinding entry = _awaitingFirstTraffic[i];
                    ChannelTraffic traffic = ReadLive(entry);
                    if (traffic.FromClient.Packets + traffic.ToClient.Packets > 0)
                    {
                        _awaitingFirstTraffic.RemoveAt(i);
                        LogCrossFamilyTraffic(_logger, entry.Route, entry.Port.Value, entry.Channel.ToString(), entry.Client.ToString(), entry.Peer.ToString(),
                            traffic.FromClient.Packets > 0 ? "client to peer" : "peer to client");
                    }
                }

                if (LibBpf.InterfaceMtu(Interface.Name) is { } mtu && mtu != _config.Mtu && mtu is >= 68 and <= ushort.MaxValue)
                {
                    RelayConfig updated = _config;
                    updated.Mtu = (ushort)mtu;
                    if (_program.Config.Update(0, updated) == 0)
                    {
                        LogMtuChanged(_logger, Interface.Name, _config.Mtu, mtu);
                        _config = updated;
                    }
                }
            }
        }
        catch (Exception exception)
        {
            LogWatchFailed(_logger, exception);
        }
    }
}
