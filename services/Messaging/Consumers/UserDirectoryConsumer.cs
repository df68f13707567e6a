using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Consumers;

/// <summary>Keeps the usernames Messaging resolves @mentions against. Upserts, so redelivery changes nothing.</summary>
public sealed class UserDirectoryConsumer(IDocumentSession session) : IConsumer<UserRegistered>, IConsumer<UserProfileChanged>
{
    public Task Consume(ConsumeContext<UserRegistered> context) =>
        Upsert(context.Message.UserId, context.Message.Username, context.Message.DisplayName, context.CancellationToken);

    public Task Consume(ConsumeContext<UserProfileChanged> context) =>
        Upsert(context.Message.UserId, context.Message.Username, context.Message.DisplayName, context.CancellationToken);

    private async Task Upsert(Guid userId, string username, string displayName, CancellationToken cancellationToken)
    {
        session.Store(new UserDirectoryEntry { Id = userId, Username = username.ToLowerInvariant(), DisplayName = displayName });
        await session.SaveChangesAsync(cancellationToken);
    }
}
