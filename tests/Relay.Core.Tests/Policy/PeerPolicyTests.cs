using Relay.Core.Net;
using Relay.Core.Policy;

namespace Relay.Core.Tests.Policy;

public class PeerPolicyTests
{
    private static readonly PeerPolicy Strict = new(allowLoopback: false, listenPort: 3478,
        [IpAddr.Parse("203.0.113.1"), IpAddr.Parse("2001:db8::1"), IpAddr.Parse("10.0.0.5")]);
    private static readonly PeerPolicy Loopback = new(allowLoopback: true, listenPort: 3478);

    [Theory]
    [InlineData("8.8.8.8:53", PeerDenial.None)]
    [InlineData("10.0.0.1:80", PeerDenial.None)] // private ranges: refused by default only with the hardening work
    [InlineData("192.168.1.1:80", PeerDenial.None)]
    [InlineData("[2606:4700::1]:443", PeerDenial.None)]
    [InlineData("[fd12:3456::99]:1", PeerDenial.None)]
    [InlineData("127.0.0.1:80", PeerDenial.Loopback)]
    [InlineData("127.255.255.254:80", PeerDenial.Loopback)]
    [InlineData("[::1]:80", PeerDenial.Loopback)]
    [InlineData("[::ffff:127.0.0.1]:80", PeerDenial.Loopback)]
    [InlineData("[::127.0.0.1]:80", PeerDenial.Loopback)]
    [InlineData("[2002:7f00:1::]:80", PeerDenial.Loopback)]
    [InlineData("[64:ff9b::7f00:1]:80", PeerDenial.Loopback)]
    [InlineData("0.0.0.0:80", PeerDenial.Unspecified)]
    [InlineData("0.1.2.3:80", PeerDenial.Unspecified)]
    [InlineData("[::]:80", PeerDenial.Unspecified)]
    [InlineData("[::ffff:0.0.0.0]:80", PeerDenial.Unspecified)]
    [InlineData("169.254.169.254:80", PeerDenial.LinkLocal)]
    [InlineData("[::ffff:169.254.169.254]:80", PeerDenial.LinkLocal)]
    [InlineData("[64:ff9b::a9fe:a9fe]:80", PeerDenial.LinkLocal)]
    [InlineData("[fe80::1]:80", PeerDenial.LinkLocal)]
    [InlineData("[fec0::1]:80", PeerDenial.Reserved)]
    [InlineData("224.0.0.251:5353", PeerDenial.Multicast)]
    [InlineData("[ff02::fb]:5353", PeerDenial.Multicast)]
    [InlineData("240.0.0.1:80", PeerDenial.Reserved)]
    [InlineData("255.255.255.255:80", PeerDenial.Reserved)]
    [InlineData("[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", PeerDenial.Teredo)]
    [InlineData("8.8.8.8:0", PeerDenial.PortZero)]
    public void Strict_policy(string peer, PeerDenial expected) =>
        Assert.Equal(expected, Strict.Check(TransportAddress.Parse(peer)));

    [Theory]
    [InlineData("127.0.0.1:9000", PeerDenial.None)]
    [InlineData("[::1]:9000", PeerDenial.None)]
    [InlineData("[::ffff:127.0.0.1]:9000", PeerDenial.None)]
    [InlineData("127.0.0.1:3478", PeerDenial.RelayItself)]
    [InlineData("[::1]:3478", PeerDenial.RelayItself)]
    [InlineData("169.254.169.254:80", PeerDenial.LinkLocal)]
    public void Loopback_allowed_policy(string peer, PeerDenial expected) =>
        Assert.Equal(expected, Loopback.Check(TransportAddress.Parse(peer)));

    [Fact]
    public void The_relays_own_public_address_is_a_peer_except_on_the_listening_port()
    {
        Assert.Equal(PeerDenial.None, Strict.Check(TransportAddress.Parse("203.0.113.1:50000"))); // another allocation (hairpin)
        Assert.Equal(PeerDenial.RelayItself, Strict.Check(TransportAddress.Parse("203.0.113.1:3478")));
        Assert.Equal(PeerDenial.RelayItself, Strict.Check(TransportAddress.Parse("[::ffff:203.0.113.1]:3478")));
        Assert.Equal(PeerDenial.RelayItself, Strict.Check(TransportAddress.Parse("[2001:db8::1]:3478")));
        Assert.Equal(PeerDenial.RelayItself, Strict.Check(TransportAddress.Parse("10.0.0.5:3478"))); // the interface address behind a NAT
        Assert.Equal(PeerDenial.None, Strict.Check(TransportAddress.Parse("10.0.0.5:50000")));
        Assert.Equal(PeerDenial.None, Strict.Check(TransportAddress.Parse("10.0.0.6:3478")));
    }

    [Theory]
    [InlineData("::ffff:1.2.3.4", "1.2.3.4")]
    [InlineData("::1.2.3.4", "1.2.3.4")]
    [InlineData("64:ff9b::102:304", "1.2.3.4")]
    [InlineData("2002:102:304::1", "1.2.3.4")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("::1", "::1")]
    [InlineData("::", "::")]
    public void Canonicalisation_extracts_embedded_ipv4(string input, string expected) =>
        Assert.Equal(IpAddr.Parse(expected), PeerPolicy.Canonicalize(IpAddr.Parse(input)));
}
