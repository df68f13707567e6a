using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

public sealed class BrokerAddressTests
{
    [Fact]
    public void ParseAddress_ReadsCredentialsHostPortAndVirtualHost()
    {
        var address = Bus.ParseAddress("amqp://chat%40svc:p%3Ass@rabbit.internal:5673/tenant%2Fone");

        Assert.Equal(new Bus.BrokerAddress("rabbit.internal", 5673, "tenant/one", "chat@svc", "p:ss", false), address);
    }

    [Fact]
    public void ParseAddress_WithoutPathOrPort_UsesTheDefaultVirtualHostAndPort()
    {
        var address = Bus.ParseAddress("amqps://user:pw@rabbit");

        Assert.Equal(new Bus.BrokerAddress("rabbit", 5671, "/", "user", "pw", true), address);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("host=rabbit;user=x")]
    [InlineData("http://rabbit:15672/")]
    public void ParseAddress_OfSomethingElse_ExplainsTheExpectedForm(string? connectionString)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bus.ParseAddress(connectionString));

        Assert.Contains("ConnectionStrings__RabbitMq", error.Message);
    }
}
