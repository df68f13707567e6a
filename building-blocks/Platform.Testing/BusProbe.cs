using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.ServiceDefaults;

namespace Platform.Testing;

/// <summary>
/// A bus host on a test class's virtual host that records every <typeparamref name="TMessage"/> published there,
/// in arrival order, and can publish contracts itself: the test's view of RabbitMQ.
/// </summary>
public sealed class BusProbe<TMessage> : IAsyncDisposable where TMessage : class
{
    private readonly IHost _host;
    private readonly Channel<TMessage> _received;

    private BusProbe(IHost host, Channel<TMessage> received)
    {
        _host = host;
        _received = received;
    }

    public static async Task<BusProbe<TMessage>> StartAsync(string rabbitMqConnectionString)
    {
        var received = Channel.CreateUnbounded<TMessage>();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = rabbitMqConnectionString,
            // One at a time, so arrival order is publish order.
            ["Bus:PrefetchCount"] = "1",
        });
        builder.Services.AddSingleton(received);
        builder.AddPlatformBus(bus => bus.AddConsumer<Recorder>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = Guid.NewGuid().ToString("N")[..8];
            endpoint.Temporary = true;
            endpoint.ConcurrentMessageLimit = 1;
        }));
        var host = builder.Build();
        await host.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        return new BusProbe<TMessage>(host, received);
    }

    public Task PublishAsync<T>(T message) where T : class => _host.Services.GetRequiredService<IPublishEndpoint>().Publish(message);

    /// <summary>The next message to arrive, failing when none arrives within <paramref name="timeout"/>.</summary>
    public async Task<TMessage> NextAsync(TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            return await _received.Reader.ReadAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No {typeof(TMessage).Name} arrived within {(timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Messages that arrive within <paramref name="quiet"/> of each other, until none does.</summary>
    public async Task<IReadOnlyList<TMessage>> DrainAsync(TimeSpan quiet)
    {
        var messages = new List<TMessage>();
        while (true)
        {
            using var cancellation = new CancellationTokenSource(quiet);
            try
            {
                messages.Add(await _received.Reader.ReadAsync(cancellation.Token));
            }
            catch (OperationCanceledException)
            {
                return messages;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private sealed class Recorder(Channel<TMessage> received) : IConsumer<TMessage>
    {
        public Task Consume(ConsumeContext<TMessage> context) => received.Writer.WriteAsync(context.Message, context.CancellationToken).AsTask();
    }
}
