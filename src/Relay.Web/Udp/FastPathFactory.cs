using System.Net;
using Relay.Core.FastPath;
using Relay.Web.Configuration;
using Relay.Xdp;

namespace Relay.Web.Udp;

/// <summary>Creates the fast path once the listening sockets are bound (the program needs the real listen port).</summary>
public interface IFastPathFactory
{
    /// <summary>The fast path for this relay; throws <see cref="RelayStartupException"/> naming the flag when it cannot start.</summary>
    IFastPath Create(ushort listenPort, IPAddress? publicV4, IPAddress? publicV6);
}

/// <summary>The XDP fast path on --ebpf-offloading's interface, or none when the flag is absent.</summary>
internal sealed class XdpFastPathFactory(RelaySettings settings, ILoggerFactory loggers) : IFastPathFactory
{
    public IFastPath Create(ushort listenPort, IPAddress? publicV4, IPAddress? publicV6)
    {
        if (settings.EbpfInterface is not { } name)
        {
            return NullFastPath.Instance;
        }

        var options = new XdpOptions
        {
            Interface = name,
            AttachMode = settings.EbpfAttachMode,
            ListenPort = listenPort,
            LowestPort = settings.LowestPort,
            HighestPort = settings.HighestPort,
            PublicV4 = publicV4,
            PublicV6 = publicV6,
            InterfaceV4 = settings.EbpfInt4,
            InterfaceV6 = settings.EbpfInt6,
            MaxBytesPerSecondPerAllocation = settings.MaxBps,
        };
        try
        {
            return XdpFastPath.Start(options, loggers.CreateLogger("Relay.Xdp"));
        }
        catch (XdpException exception)
        {
            throw new RelayStartupException($"{Setting.Of(nameof(RelaySettings.EbpfInterface)).Display} {name}: {exception.Message}");
        }
    }
}
