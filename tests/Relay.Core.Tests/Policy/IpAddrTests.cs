using Relay.Core.Net;

namespace Relay.Core.Tests.Policy;

public class IpAddrTests
{
    [Fact]
    public void Ipv4_and_its_mapped_ipv6_form_are_different_values()
    {
        Assert.NotEqual(IpAddr.Parse("1.2.3.4"), IpAddr.Parse("::ffff:1.2.3.4"));
        Assert.Equal(IpAddr.Parse("1.2.3.4"), IpAddr.FromV4(0x01020304));
        Assert.Equal(IpAddr.Parse("1.2.3.4").GetHashCode(), IpAddr.FromBytes([1, 2, 3, 4]).GetHashCode());
    }

    [Theory]
    [InlineData("1.2.3.4:5", "1.2.3.4:5")]
    [InlineData("[2001:db8::1]:3478", "[2001:db8::1]:3478")]
    public void Transport_addresses_print_like_socket_addresses(string input, string expected) =>
        Assert.Equal(expected, TransportAddress.Parse(input).ToString());

    [Fact]
    public void Scoped_addresses_are_refused_by_try_parse()
    {
        Assert.False(IpAddr.TryParse("fe80::1%2", out _));
        Assert.False(IpAddr.TryParse("not an address", out _));
        Assert.True(IpAddr.TryParse("fe80::1", out _));
        Assert.True(IpAddr.TryParse("192.0.2.1", out var v4));
        Assert.True(v4.IsV4);
    }

    [Fact]
    public void From_bytes_refuses_other_lengths() => Assert.Throws<ArgumentException>(() => IpAddr.FromBytes([1, 2, 3]));
}
