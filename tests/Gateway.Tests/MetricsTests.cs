using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Gateway;
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

    [Fact]
    public async Task BusMetrics_CountWhatIsConsumed_WithoutPerMessageGaugesAndHistograms()
    {
        await using var gateway = new ServiceFactory<Program>(infrastructure);
        using var client = gateway.CreateClient();
        var publish = gateway.Services.GetRequiredService<IPublishEndpoint>();

        // Every Gateway consumes typing (its own included); published again until the Gateway's queue is bound and one is counted.
        var text = await Eventually.Returns(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            await publish.Publish(new TypingChanged
            {
                ConversationId = Guid.CreateVersion7(), UserId = Guid.CreateVersion7(), InstanceId = "metrics-test", StartedAt = now, ExpiresAt = now.AddSeconds(5),
            });
            return await client.GetStringAsync("/metrics");
        }, t => t.Contains("messaging_masstransit_consume_"), TimeSpan.FromSeconds(20), "the consumed message is counted");
        Assert.Contains("messaging_masstransit_receive_", text);
        Assert.DoesNotContain("messaging_masstransit_consume_duration", text);
        Assert.DoesNotContain("messaging_masstransit_receive_duration", text);
        Assert.DoesNotContain("messaging_masstransit_consume_active", text);
        Assert.DoesNotContain("messaging_masstransit_receive_active", text);
    }
}
