using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Consumers;

/// <summary>
/// Keeps the usernames Messaging resolves @mentions against, and each user's read-receipt setting. Upserts (the newest
/// setting by its time), so redelivery changes nothing.
/// </summary>
public sealed class UserDirectoryConsumer(IDocumentSession session) : IConsumer<UserRegistered>, IConsumer<UserProfileChanged>, IConsumer<PrivacyChanged>, IConsumer<BlocksChanged>
{
    /// <summary>Blocks, for sends in direct conversations; per pair the newest change wins.</summary>
    public async Task Consume(ConsumeContext<BlocksChanged> context)
    {
        var changed = context.Message;
        foreach (var (ids, active) in new[] { (changed.Added, true), (changed.Removed, false) })
            foreach (var blocked in ids)
            {
                var key = UserBlock.KeyOf(changed.OwnerId, blocked);
                if (await session.LoadAsync<UserBlock>(key, context.CancellationToken) is { } known && known.ChangedAt > changed.ChangedAt)
                    continue;
                session.Store(new UserBlock { Id = key, OwnerId = changed.OwnerId, BlockedUserId = blocked, Active = active, ChangedAt = changed.ChangedAt });
            }
        await session.SaveChangesAsync(context.CancellationToken);
    }

    public async Task Consume(ConsumeContext<PrivacyChanged> context)
    {
        var changed = context.Message;
        if (await session.LoadAsync<UserPrivacy>(changed.UserId, context.CancellationToken) is { } known && known.ChangedAt > changed.ChangedAt)
            return;
        session.Store(new UserPrivacy { Id = changed.UserId, ReadReceipts = changed.ReadReceipts, ChangedAt = changed.ChangedAt });
        await session.SaveChangesAsync(context.CancellationToken);
    }

    public Task Consume(ConsumeContext<UserRegistered> context) =>
        Upsert(context.Message.UserId, context.Message.Username, context.Message.DisplayName, context.Message.IsBot, context.CancellationToken);

    public Task Consume(ConsumeContext<UserProfileChanged> context) =>
        Upsert(context.Message.UserId, context.Message.Username, context.Message.DisplayName, isBot: null, context.CancellationToken);

    /// <param name="isBot">Null: as known (a profile change does not say).</param>
    private async Task Upsert(Guid userId, string username, string displayName, bool? isBot, CancellationToken cancellationToken)
    {
        var known = await session.LoadAsync<UserDirectoryEntry>(userId, cancellationToken);
        if (known is { Deleted: true })
            return;
        session.Store(new UserDirectoryEntry { Id = userId, Username = username.ToLowerInvariant(), DisplayName = displayName, IsBot = isBot ?? known?.IsBot ?? false });
        await session.SaveChangesAsync(cancellationToken);
    }
}
