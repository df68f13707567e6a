using MassTransit;
using Platform.Contracts.Gateway;
using Platform.Presence.Data;

namespace Platform.Presence.Consumers;

/// <summary>
/// Connections opening and closing on the Gateways, and the Gateways' heartbeats. Idempotent and order-independent:
/// a repeated opening or closing changes nothing, and a closing that overtakes its opening keeps it closed.
/// </summary>
public sealed class ConnectionConsumer(PresenceStore store, PresencePublisher publisher)
    : IConsumer<ConnectionOpened>, IConsumer<ConnectionClosed>, IConsumer<InstanceHeartbeat>
{
    public async Task Consume(ConsumeContext<ConnectionOpened> context) =>
        await publisher.PublishAsync(await store.OpenedAsync(context.Message, context.CancellationToken), context.CancellationToken);

    public async Task Consume(ConsumeContext<ConnectionClosed> context) =>
        await publisher.PublishAsync(await store.ClosedAsync(context.Message, context.CancellationToken), context.CancellationToken);

    public Task Consume(ConsumeContext<InstanceHeartbeat> context) => store.HeartbeatAsync(context.Message, context.CancellationToken);
}
