using Microsoft.Extensions.Logging;

namespace Relay.Xdp;

public sealed partial class XdpFastPath
{
    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "XDP fast path attached to {Interface} in {Mode} mode (program id {ProgramId}, MTU {Mtu}); ChannelData on bound channels is relayed in the kernel")]
    private static partial void LogAttached(ILogger logger, string @interface, string mode, uint programId, int mtu);

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "XDP translations into {Family} are sent from {Address} ({Origin})")]
    private static partial void LogSource(ILogger logger, string family, string address, string origin);

    [LoggerMessage(EventId = 702, Level = LogLevel.Debug, Message = "XDP binding added: route {Route}, allocation port {Port}, channel {Channel}, client {Client}, peer {Peer}")]
    private static partial void LogBindingAdded(ILogger logger, string route, ushort port, string channel, string client, string peer);

    [LoggerMessage(EventId = 703, Level = LogLevel.Debug, Message = "XDP binding removed: allocation port {Port}, channel {Channel}, client {Client}, peer {Peer}")]
    private static partial void LogBindingRemoved(ILogger logger, ushort port, string channel, string client, string peer);

    [LoggerMessage(EventId = 704, Level = LogLevel.Information, Message = "XDP relays cross-family traffic: route {Route}, allocation port {Port}, channel {Channel} (client {Client}, peer {Peer}); first packet {Direction}")]
    private static partial void LogCrossFamilyTraffic(ILogger logger, string route, ushort port, string channel, string client, string peer, string direction);

    [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "XDP maps refused the binding of {Client} channel {Channel} ({Reason}; {Count} so far); userspace relays it")]
    private static partial void LogBindingRefused(ILogger logger, string client, string channel, string reason, long count);

    [LoggerMessage(EventId = 706, Level = LogLevel.Debug, Message = "Not offloading {Client} channel {Channel}: {Reason}")]
    private static partial void LogNotOffloaded(ILogger logger, string client, string channel, string reason);

    [LoggerMessage(EventId = 707, Level = LogLevel.Information, Message = "MTU of {Interface} changed from {Old} to {New}; XDP passes larger packets to userspace")]
    private static partial void LogMtuChanged(ILogger logger, string @interface, int old, int @new);

    [LoggerMessage(EventId = 708, Level = LogLevel.Warning, Message = "XDP watch failed")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 709, Level = LogLevel.Information, Message = "XDP fast path detached from {Interface}")]
    private static partial void LogDetached(ILogger logger, string @interface);
}
