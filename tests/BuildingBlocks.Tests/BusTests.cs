using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Contracts.Identity;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.BuildingBlocks.Tests;

public sealed class BusTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    private sealed class Received
    {
        public TaskCompletionSource<UserRegistered> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class UserRegisteredConsumer(Received received) : IConsumer<UserRegistered>
    {
        public Task Consume(ConsumeContext<UserRegistered> context)
        {
            received.First.TrySetResult(context.Message);
            return Task.CompletedTask;
        }
    }

    private IHost CreateHost(Action<IBusRegistrationConfigurator>? consumers = null, string? service = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Bus:ServiceName"] = service,
        });
        builder.Services.AddSingleton<Received>();
        builder.AddPlatformBus(consumers);
        return builder.Build();
    }

    [Fact]
    public async Task Contract_PublishedByOneHost_IsConsumedByAnotherHostOverRabbitMq()
    {
        using var consumerHost = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>());
        using var publisherHost = CreateHost();
        await consumerHost.StartAsync();
        await publisherHost.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await consumerHost.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);

        var sent = new UserRegistered
        {
            UserId = Guid.CreateVersion7(),
            Username = "ada",
            DisplayName = "Ada Lovelace",
            RegisteredAt = DateTimeOffset.UtcNow,
        };
        await publisherHost.Services.GetRequiredService<IPublishEndpoint>().Publish(sent, timeout.Token);

        var received = await consumerHost.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        Assert.Equal(sent, received);
        await publisherHost.StopAsync();
        await consumerHost.StopAsync();
    }

    [Fact]
    public async Task TwoServicesWithTheSameConsumer_EachHaveTheirOwnQueue_AndEachGetsEveryMessage()
    {
        using var media = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>(), service: "media");
        using var notifications = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>(), service: "notifications");
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var host in new[] { media, notifications, publisher })
            await host.StartAsync(timeout.Token);
        foreach (var host in new[] { media, notifications })
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);

        await publisher.Services.GetRequiredService<IPublishEndpoint>().Publish(
            new UserRegistered { UserId = Guid.CreateVersion7(), Username = "grace", DisplayName = "Grace Hopper", RegisteredAt = DateTimeOffset.UtcNow },
            timeout.Token);

        await media.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        await notifications.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        // The management API's consumer list lags the broker by its statistics interval.
        var consumers = await Eventually.Returns(infrastructure.VirtualHost.ConsumersAsync, list => list.Count >= 2 && list.All(c => c.Connection.Length > 0), TimeSpan.FromSeconds(20),
            "the management API lists both consumers");
        Assert.Contains(consumers, c => c.Queue == "media-user-registered" && c.Connection.StartsWith("media ", StringComparison.Ordinal));
        Assert.Contains(consumers, c => c.Queue == "notifications-user-registered" && c.Connection.StartsWith("notifications ", StringComparison.Ordinal));
        foreach (var host in new[] { publisher, notifications, media })
            await host.StopAsync();
    }

    [Fact]
    public async Task AQueueNamedWithoutTheServicesName_IsRefusedAtStart()
    {
        using var host = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>().Endpoint(endpoint => endpoint.Name = "user-registered"), service: "media");

        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains("'user-registered' does not belong to this service", refusal.ToString());
    }
}
