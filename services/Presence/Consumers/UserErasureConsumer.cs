using MassTransit;
using Platform.Contracts.Identity;
using Platform.Contracts.Presence;
using Platform.Presence.Data;

namespace Platform.Presence.Consumers;

/// <summary>
/// A deleted account (<see cref="UserDeleted"/>) is erased from Presence (<see cref="PresenceStore.EraseUserAsync"/>), and
/// the Gateways check their watches of the user again, so watchers see the user as unknown. Idempotent.
/// </summary>
public sealed class UserErasureConsumer(PresenceStore store, TimeProvider time) : IConsumer<UserDeleted>
{
    public async Task Consume(ConsumeContext<UserDeleted> context)
    {
        await store.EraseUserAsync(context.Message.UserId, context.CancellationToken);
        await context.Publish(new PresenceVisibilityNarrowed { UserIds = [context.Message.UserId], ChangedAt = time.GetUtcNow() }, context.CancellationToken);
    }
}
