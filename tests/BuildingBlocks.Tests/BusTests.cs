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

    private IHost CreateHost(Action<IBusRegistrationConfigurator>? consumers = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
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
}
