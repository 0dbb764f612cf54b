using Relay.Core.Net;
using Relay.Core.Policy;

namespace Relay.Core.Tests.Policy;

public class PeerPolicyTests
{
    private static readonly IpAddr[] OwnAddresses = [IpAddr.Parse("203.0.113.1"), IpAddr.Parse("2001:db8::1"), IpAddr.Parse("10.0.0.5")];
    private static readonly PeerPolicy Default = new(new PeerPolicyOptions(), [3478, 8080, 9999], OwnAddresses);
    private static readonly PeerPolicy Loopback = new(new PeerPolicyOptions { AllowLoopback = true }, [3478, 8080, 9999]);
    private static readonly PeerPolicy Lab = new(new PeerPolicyOptions { AllowPrivate = true }, [3478], OwnAddresses);

    /// <summary>Every address the hardening issue lists, in each spelling: refused with the default flags.</summary>
    public static TheoryData<string, PeerDenial> DeniedByDefault => new()
    {
        { "[::ffff:127.0.0.1]:80", PeerDenial.Loopback },
        { "[::127.0.0.1]:80", PeerDenial.Loopback },
        { "[2002:7f00:1::]:80", PeerDenial.Loopback },
        { "[64:ff9b::7f00:1]:80", PeerDenial.Loopback },
        { "[::ffff:0.0.0.0]:80", PeerDenial.Unspecified },
        { "169.254.169.254:80", PeerDenial.LinkLocal },
        { "[::ffff:169.254.169.254]:80", PeerDenial.LinkLocal },
        { "[64:ff9b::a9fe:a9fe]:80", PeerDenial.LinkLocal },
        { "[fe80::1]:80", PeerDenial.LinkLocal },
        { "[fc00::1]:80", PeerDenial.Private },
        { "[fd12:3456::99]:80", PeerDenial.Private },
        { "[fec0::1]:80", PeerDenial.Reserved },
        { "0.0.0.0:80", PeerDenial.Unspecified },
        { "0.1.2.3:80", PeerDenial.Unspecified },
        { "[::]:80", PeerDenial.Unspecified },
        { "[::1]:80", PeerDenial.Loopback },
        { "127.0.0.1:80", PeerDenial.Loopback },
        { "127.255.255.254:80", PeerDenial.Loopback },
        { "10.0.0.1:80", PeerDenial.Private },
        { "10.255.255.255:80", PeerDenial.Private },
        { "172.16.0.1:80", PeerDenial.Private },
        { "172.31.255.254:80", PeerDenial.Private },
        { "192.168.1.1:80", PeerDenial.Private },
        { "[::ffff:192.168.1.1]:80", PeerDenial.Private },
        { "[2002:c0a8:101::]:80", PeerDenial.Private },
        { "100.64.0.1:80", PeerDenial.SharedAddressSpace },
        { "100.127.255.254:80", PeerDenial.SharedAddressSpace },
        { "192.0.2.1:80", PeerDenial.Documentation },
        { "198.51.100.7:80", PeerDenial.Documentation },
        { "203.0.113.9:80", PeerDenial.Documentation },
        { "[2001:db8::7]:80", PeerDenial.Documentation },
        { "[3fff::1]:80", PeerDenial.Documentation },
        { "224.0.0.1:80", PeerDenial.Multicast },
        { "[ff02::fb]:5353", PeerDenial.Multicast },
        { "240.0.0.1:80", PeerDenial.Reserved },
        { "255.255.255.255:80", PeerDenial.Reserved },
        { "[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", PeerDenial.Teredo },
        { "8.8.8.8:0", PeerDenial.PortZero },
    };

    [Theory]
    [MemberData(nameof(DeniedByDefault))]
    public void The_default_policy_refuses_special_and_private_addresses(string peer, PeerDenial expected) =>
        Assert.Equal(expected, Default.Check(TransportAddress.Parse(peer)));

    [Theory]
    [InlineData("8.8.8.8:53")]
    [InlineData("172.32.0.1:80")] // just outside 172.16/12
    [InlineData("100.128.0.1:80")] // just outside 100.64/10
    [InlineData("192.169.0.1:80")]
    [InlineData("[2606:4700::1]:443")]
    [InlineData("[::ffff:8.8.8.8]:53")]
    [InlineData("[64:ff9b::808:808]:53")] // NAT64 of a public address
    [InlineData("[fbff::1]:80")] // just below fc00::/7
    public void The_default_policy_allows_public_addresses(string peer) =>
        Assert.Equal(PeerDenial.None, Default.Check(TransportAddress.Parse(peer)));

    [Theory]
    [InlineData("127.0.0.1:9000", PeerDenial.None)]
    [InlineData("[::1]:9000", PeerDenial.None)]
    [InlineData("[::ffff:127.0.0.1]:9000", PeerDenial.None)]
    [InlineData("127.0.0.1:3478", PeerDenial.RelayItself)]
    [InlineData("127.0.0.1:9999", PeerDenial.RelayItself)] // the admin API
    [InlineData("[::1]:8080", PeerDenial.RelayItself)] // health and metrics
    [InlineData("169.254.169.254:80", PeerDenial.LinkLocal)]
    [InlineData("10.0.0.1:80", PeerDenial.Private)]
    public void Allowing_loopback_allows_nothing_else(string peer, PeerDenial expected) =>
        Assert.Equal(expected, Loopback.Check(TransportAddress.Parse(peer)));

    [Theory]
    [InlineData("10.0.0.1:80", PeerDenial.None)]
    [InlineData("100.64.0.1:80", PeerDenial.None)]
    [InlineData("[fd12:3456::99]:80", PeerDenial.None)]
    [InlineData("192.0.2.1:80", PeerDenial.None)]
    [InlineData("127.0.0.1:80", PeerDenial.Loopback)]
    [InlineData("169.254.169.254:80", PeerDenial.LinkLocal)]
    [InlineData("[::ffff:169.254.169.254]:80", PeerDenial.LinkLocal)]
    [InlineData("10.0.0.5:3478", PeerDenial.RelayItself)]
    public void Allowing_private_peers_keeps_loopback_link_local_and_the_relay_refused(string peer, PeerDenial expected) =>
        Assert.Equal(expected, Lab.Check(TransportAddress.Parse(peer)));

    [Fact]
    public void An_allowed_block_wins_over_every_range_deny_but_not_over_the_relays_own_ports()
    {
        var policy = new PeerPolicy(new PeerPolicyOptions
        {
            Allowed = [IpNetwork.Parse("10.41.0.0/16"), IpNetwork.Parse("169.254.169.254/32"), IpNetwork.Parse("fd41::/64")],
            Denied = [IpNetwork.Parse("10.0.0.0/8")],
        }, [3478], [IpAddr.Parse("10.41.0.1")]);

        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("10.41.2.3:5000")));
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("[::ffff:10.41.2.3]:5000"))); // canonical form matches
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("169.254.169.254:80")));
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("[fd41::7]:5000")));
        Assert.Equal(PeerDenial.DeniedByOperator, policy.Check(TransportAddress.Parse("10.42.0.1:5000")));
        Assert.Equal(PeerDenial.Private, policy.Check(TransportAddress.Parse("[fd42::1]:5000")));
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("10.41.0.1:3478")));
    }

    [Fact]
    public void A_denied_block_refuses_public_addresses_in_every_spelling()
    {
        var policy = new PeerPolicy(new PeerPolicyOptions { Denied = [IpNetwork.Parse("8.8.8.0/24")] }, [3478]);
        Assert.Equal(PeerDenial.DeniedByOperator, policy.Check(TransportAddress.Parse("8.8.8.8:53")));
        Assert.Equal(PeerDenial.DeniedByOperator, policy.Check(TransportAddress.Parse("[::ffff:8.8.8.8]:53")));
        Assert.Equal(PeerDenial.DeniedByOperator, policy.Check(TransportAddress.Parse("[64:ff9b::808:808]:53")));
        Assert.Equal(PeerDenial.DeniedByOperator, policy.Check(TransportAddress.Parse("[2002:808:808::1]:53")));
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("8.8.4.4:53")));
    }

    [Fact]
    public void The_relays_own_public_address_is_a_peer_except_on_its_own_ports()
    {
        var policy = new PeerPolicy(new PeerPolicyOptions { AllowPrivate = true }, [3478, 9999], OwnAddresses);
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("203.0.113.1:50000"))); // another allocation (hairpin)
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("203.0.113.1:3478")));
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("203.0.113.1:9999")));
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("[::ffff:203.0.113.1]:3478")));
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("[2001:db8::1]:3478")));
        Assert.Equal(PeerDenial.RelayItself, policy.Check(TransportAddress.Parse("10.0.0.5:3478"))); // the interface address behind a NAT
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("10.0.0.5:50000")));
        Assert.Equal(PeerDenial.None, policy.Check(TransportAddress.Parse("10.0.0.6:3478")));
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

    [Theory]
    [InlineData("10.0.0.0/8", "10.255.0.1", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("0.0.0.0/0", "8.8.8.8", true)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("fd41::/80", "fd41::1:2:3", true)]
    [InlineData("fd41::/80", "fd41:0:0:1::", false)]
    [InlineData("192.0.2.7", "192.0.2.7", true)]
    [InlineData("10.0.0.0/8", "::ffff:10.0.0.1", false)] // families differ; the policy canonicalises first
    public void Networks_contain_what_their_prefix_covers(string network, string address, bool expected) =>
        Assert.Equal(expected, IpNetwork.Parse(network).Contains(IpAddr.Parse(address)));

    [Theory]
    [InlineData("10.1.2.3/8", "did you mean 10.0.0.0/8?")]
    [InlineData("10.0.0.0/33", "prefix length outside 0-32")]
    [InlineData("fd00::/129", "prefix length outside 0-128")]
    [InlineData("banana", "not an address or CIDR block")]
    public void Bad_networks_say_what_is_wrong(string text, string message)
    {
        Assert.False(IpNetwork.TryParse(text, out _, out string? error));
        Assert.Contains(message, error);
    }
}
