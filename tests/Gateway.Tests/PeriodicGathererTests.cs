using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Gateway;
using Platform.Gateway.Realtime;
using Platform.Testing;

namespace Platform.Gateway.Tests;

/// <summary>
/// What a Gateway gathers for one interval (delivered receipts, senders' activity) still goes out when it stops: a
/// rollout stops every Gateway in turn, and each would otherwise drop what its clients acknowledged last.
/// </summary>
public sealed class PeriodicGathererTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public async Task WhatWasGatheredSinceTheLastInterval_IsPublished_WhenTheGatewayStops()
    {
        await using var acknowledged = await BusProbe<DeliveriesAcknowledged>.StartAsync(infrastructure.VirtualHost.ConnectionString);
        await using var active = await BusProbe<UsersActive>.StartAsync(infrastructure.VirtualHost.ConnectionString);
        // Intervals far longer than the test: only the stop can publish.
        var gateway = new ServiceFactory<Program>(infrastructure)
            .WithSetting("Realtime:AckBatchInterval", "01:00:00")
            .WithSetting("Realtime:ActivityReportInterval", "00:00:30");
        using (gateway.CreateClient())
        {
        }
        var (user, conversation) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        gateway.Services.GetRequiredService<AckBatcher>().Add(user, conversation, 7);
        gateway.Services.GetRequiredService<ActivityReporter>().Active(user, DateTimeOffset.UtcNow);
        await Task.Delay(200);

        await gateway.DisposeAsync();

        var receipt = Assert.Single((await acknowledged.NextAsync(TimeSpan.FromSeconds(10))).Items);
        Assert.Equal((user, conversation, 7L), (receipt.UserId, receipt.ConversationId, receipt.Seq));
        Assert.Equal(user, Assert.Single((await active.NextAsync(TimeSpan.FromSeconds(10))).Items).UserId);
    }
}
