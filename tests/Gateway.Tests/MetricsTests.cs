using Microsoft.Extensions.DependencyInjection;
using Platform.Gateway.Realtime;
using Platform.Testing;

namespace Platform.Gateway.Tests;

public sealed class MetricsTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public async Task RealtimeMetrics_AreExportedInPrometheusFormat()
    {
        await using var gateway = new ServiceFactory<Program>(infrastructure);
        using var client = gateway.CreateClient();
        var metrics = gateway.Services.GetRequiredService<RealtimeMetrics>();

        metrics.ConnectionOpened();
        metrics.Delivered(TimeSpan.FromMilliseconds(3));
        metrics.Disconnected("test");

        var text = await Eventually.Returns(() => client.GetStringAsync("/metrics"), t => t.Contains("platform_gateway_send_to_deliver"),
            TimeSpan.FromSeconds(10), "the send-to-deliver histogram is exported");
        Assert.Contains("platform_gateway_deliveries", text);
        Assert.Contains("platform_gateway_connections", text);
        Assert.Contains("platform_gateway_disconnects", text);
    }
}
