using System.Buffers.Binary;
using Relay.Core.Net;
using Relay.Core.Policy;
using Relay.Core.Stun;
using Relay.Core.Time;

namespace Relay.Core.Server;

// The data path: ChannelData and Send indications from clients, datagrams from peers. No allocation, no events.
public sealed partial class RelayServer
{
    private static readonly ushort DataIndicationType = StunMessageType.Encode(StunMethod.Data, StunClass.Indication);

    private ClientRoute HandleChannelData(ReadOnlySpan<byte> datagram, ClientSocket from, Instant now)
    {
        if (!ChannelData.TryParse(datagram, out ushort number, out int length))
        {
            Counters.CountDrop(DropReason.MalformedChannelData);
            return ClientRoute.None;
        }

        if (number > _options.HighestChannelNumber)
        {
            Counters.CountDrop(DropReason.ChannelOutOfRange);
            return ClientRoute.None;
        }

        // A ChannelData message never refreshes the channel or the permission (RFC 8656 §12.6).
        if (!_channelsByClient.TryGetValue((from, number), out Channel? channel) || !channel.Bound || channel.ExpiresAt <= now)
        {
            Counters.CountDrop(DropReason.UnknownChannel);
            return ClientRoute.None;
        }

        Allocation allocation = channel.Allocation;
        if (!TakeBudget(allocation, ref allocation.BudgetFromClient, length, now))
        {
            return ClientRoute.None;
        }

        allocation.PacketsFromClient++;
        allocation.BytesFromClient += length;
        channel.PacketsFromClient++;
        channel.BytesFromClient += length;
        Counters.CountRelayed(RelayDirection.ClientToPeer, from.Family, channel.Peer.Family, length);
        return new ClientRoute(allocation.Port, channel.Peer, ChannelData.HeaderLength, length);
    }

    /// <summary>
    /// A Send indication (RFC 8656 §11.2): relayed to XOR-PEER-ADDRESS if a permission for that IP exists. Invalid
    /// indications are dropped silently; indications are never answered.
    /// </summary>
    private ClientRoute HandleSendIndication(in StunMessage message, ClientSocket from, Instant now)
    {
        if (!_allocationsByClient.TryGetValue(from, out Allocation? allocation))
        {
            Counters.CountDrop(DropReason.NoAllocation);
            return ClientRoute.None;
        }

        bool hasPeer = false, hasData = false;
        TransportAddress peer = default;
        int dataOffset = 0, dataLength = 0;
        foreach (StunAttribute attribute in message.Attributes)
        {
            switch (attribute.Type)
            {
                case StunAttr.XorPeerAddress when !hasPeer:
                    hasPeer = TryReadXorAddress(message, attribute.Value, out peer);
                    if (!hasPeer)
                    {
                        Counters.CountDrop(DropReason.BadIndication);
                        return ClientRoute.None;
                    }

                    break;
                case StunAttr.Data when !hasData:
                    hasData = true;
                    dataOffset = attribute.Offset + 4;
                    dataLength = attribute.Value.Length;
                    break;
                default:
                    if (StunAttr.IsComprehensionRequired(attribute.Type) && !StunAttr.IsKnownComprehensionRequired(attribute.Type))
                    {
                        Counters.CountDrop(DropReason.BadIndication);
                        return ClientRoute.None;
                    }

                    break;
            }
        }

        if (!hasPeer || !hasData || !allocation.Relays(peer.Family))
        {
            Counters.CountDrop(DropReason.BadIndication);
            return ClientRoute.None;
        }

        if (_peerPolicy.Check(peer) is var denial and not PeerDenial.None)
        {
            Counters.CountPeerRefused(denial);
            Counters.CountDrop(DropReason.PeerRefused);
            return ClientRoute.None;
        }

        if (!allocation.IsPermitted(peer.Address, now))
        {
            Counters.CountDrop(DropReason.NoPermission);
            return ClientRoute.None;
        }

        if (!TakeBudget(allocation, ref allocation.BudgetFromClient, dataLength, now))
        {
            return ClientRoute.None;
        }

        allocation.PacketsFromClient++;
        allocation.BytesFromClient += dataLength;
        Counters.CountRelayed(RelayDirection.ClientToPeer, from.Family, peer.Family, dataLength);
        return new ClientRoute(allocation.Port, new PeerSocket(peer), dataOffset, dataLength);
    }

    /// <summary>
    /// A datagram from a peer on an allocation's relayed port, at <c>buffer[payloadOffset..+payloadLength]</c>. The
    /// buffer must have <see cref="PeerHeadroom"/> bytes before the payload and <see cref="PeerTailroom"/> after it:
    /// the ChannelData header (bound channel) or Data indication (permission only) is written there in place.
    /// </summary>
    public PeerRoute HandlePeerInput(Span<byte> buffer, int payloadOffset, int payloadLength, PeerSocket from, AllocationPort port, Instant now)
    {
        if (payloadOffset < PeerHeadroom || buffer.Length - payloadOffset - payloadLength < PeerTailroom)
        {
            throw new ArgumentException($"The peer buffer needs {PeerHeadroom} bytes of headroom and {PeerTailroom} of tailroom.", nameof(buffer));
        }

        if (!_allocationsByPort.TryGetValue(port, out Allocation? allocation))
        {
            Counters.CountDrop(DropReason.UnknownAllocationPort);
            return PeerRoute.None;
        }

        if (_channelsByPeer.TryGetValue((port, from), out Channel? channel) && channel.Bound && channel.ExpiresAt > now)
        {
            if (!TakeBudget(allocation, ref allocation.BudgetToClient, payloadLength, now))
            {
                return PeerRoute.None;
            }

            int start = payloadOffset - ChannelData.HeaderLength;
            ChannelData.WriteHeader(buffer[start..], channel.Number.Value, payloadLength);
            channel.PacketsToClient++;
            channel.BytesToClient += payloadLength;
            CountToClient(allocation, from.Family, payloadLength);
            return new PeerRoute(allocation.Client, start, payloadLength + ChannelData.HeaderLength);
        }

        // A Data indication's length field must cover the padded payload.
        if (!allocation.IsPermitted(from.Address.Address, now) || payloadLength > ushort.MaxValue - PeerHeadroom)
        {
            Counters.CountDrop(DropReason.NoPermission);
            return PeerRoute.None;
        }

        // The permission's address passed the policy, but a port may not (the relay's own listening port).
        if (_peerPolicy.Check(from.Address) is var refusal and not PeerDenial.None)
        {
            Counters.CountPeerRefused(refusal);
            Counters.CountDrop(DropReason.PeerRefused);
            return PeerRoute.None;
        }

        if (!TakeBudget(allocation, ref allocation.BudgetToClient, payloadLength, now))
        {
            return PeerRoute.None;
        }

        int headerLength = StunConstants.HeaderLength + 4 + XorAddress.EncodedLength(from.Family) + 4;
        int begin = payloadOffset - headerLength;
        int padding = (4 - (payloadLength & 3)) & 3;
        Span<byte> message = buffer.Slice(begin, headerLength + payloadLength + padding);
        BinaryPrimitives.WriteUInt16BigEndian(message, DataIndicationType);
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], (ushort)(message.Length - StunConstants.HeaderLength));
        BinaryPrimitives.WriteUInt32BigEndian(message[4..], StunConstants.MagicCookie);
        _random.Fill(message.Slice(8, StunConstants.TransactionIdLength));

        Span<byte> attribute = message[StunConstants.HeaderLength..];
        int addressLength = XorAddress.EncodedLength(from.Family);
        BinaryPrimitives.WriteUInt16BigEndian(attribute, StunAttr.XorPeerAddress);
        BinaryPrimitives.WriteUInt16BigEndian(attribute[2..], (ushort)addressLength);
        XorAddress.Encode(from.Address, message, attribute[4..]);
        attribute = attribute[(4 + addressLength)..];
        BinaryPrimitives.WriteUInt16BigEndian(attribute, StunAttr.Data);
        BinaryPrimitives.WriteUInt16BigEndian(attribute[2..], (ushort)payloadLength);
        message[(headerLength + payloadLength)..].Clear();

        CountToClient(allocation, from.Family, payloadLength);
        return new PeerRoute(allocation.Client, begin, message.Length);
    }

    /// <summary>Takes the payload from one of the allocation's budgets; false, counted as over the cap, when it is spent.</summary>
    private bool TakeBudget(Allocation allocation, ref ByteBudget budget, int payloadLength, Instant now)
    {
        if (budget.TryTake(payloadLength, _options.MaxBytesPerSecondPerAllocation, now))
        {
            return true;
        }

        allocation.PacketsOverBandwidth++;
        Counters.CountDrop(DropReason.OverBandwidth);
        return false;
    }

    private void CountToClient(Allocation allocation, IpFamily peerFamily, int payloadLength)
    {
        allocation.PacketsToClient++;
        allocation.BytesToClient += payloadLength;
        Counters.CountRelayed(RelayDirection.PeerToClient, allocation.Client.Family, peerFamily, payloadLength);
    }
}
