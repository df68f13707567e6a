using System.Net;
using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

public sealed class AddressPolicyTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.255.255.254", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("100.127.255.255", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.0.1", false)]
    [InlineData("192.0.2.1", false)]
    [InlineData("198.18.0.1", false)]
    [InlineData("224.0.0.251", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::ffff:169.254.169.254", false)]
    [InlineData("::127.0.0.1", false)]
    [InlineData("64:ff9b::a9fe:a9fe", false)]
    [InlineData("2002:a9fe:a9fe::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fc00::1", false)]
    [InlineData("fd12:3456::1", false)]
    [InlineData("ff02::1", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("2001::1", false)]
    [InlineData("93.184.215.14", true)]
    [InlineData("100.63.255.255", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("2606:4700::1111", true)]
    public void IsPublic_RefusesEveryInternalForm(string address, bool expected) =>
        Assert.Equal(expected, AddressPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public void Allows_AnExplicitEndpoint_OnlyOnItsPort()
    {
        var policy = new AddressPolicy([80, 443, 8080, 8443], ["127.0.0.1:8081"]);

        Assert.True(policy.Allows(IPAddress.Loopback, 8081));
        Assert.True(policy.Allows(IPAddress.Parse("::ffff:127.0.0.1"), 8081));
        Assert.False(policy.Allows(IPAddress.Loopback, 8082));
        Assert.False(policy.Allows(IPAddress.Parse("8.8.8.8"), 22));
        Assert.True(policy.Allows(IPAddress.Parse("8.8.8.8"), 443));
    }

    [Fact]
    public void AllowLoopback_AllowsLoopbackOnAnyPort_AndNothingElseInternal()
    {
        var policy = new AddressPolicy(null, [], allowLoopback: true);

        Assert.True(policy.Allows(IPAddress.Loopback, 54321));
        Assert.True(policy.Allows(IPAddress.IPv6Loopback, 80));
        Assert.True(policy.Allows(IPAddress.Parse("::ffff:127.0.0.1"), 9000));
        Assert.False(policy.Allows(IPAddress.Parse("10.0.0.1"), 443));
        Assert.False(policy.Allows(IPAddress.Parse("169.254.169.254"), 80));
        Assert.True(policy.Allows(IPAddress.Parse("8.8.8.8"), 22));
        Assert.False(new AddressPolicy(null, []).Allows(IPAddress.Loopback, 443));
    }
}
