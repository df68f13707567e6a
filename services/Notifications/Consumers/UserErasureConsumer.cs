using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Notifications.Domain;
using Platform.Notifications.Webhooks;

namespace Platform.Notifications.Consumers;

/// <summary>
/// A deleted account (<see cref="UserDeleted"/>) is erased from Notifications: the user's feed, pending pushes, push
/// subscriptions, preferences, read cursors and presence; other users' notifications about the user's messages lose the
/// text and the user's name (the title names a deleted user, the actor is gone); the name itself stays only as a
/// tombstone that a late registration or profile event does not overwrite; the user's webhooks are deleted, and queued
/// webhook deliveries of the user's actions lose their content. Idempotent: a second delivery finds nothing.
/// </summary>
public sealed class UserErasureConsumer(IDocumentSession session, WebhookStore webhooks, ILogger<UserErasureConsumer> logger) : IConsumer<UserDeleted>
{
    public const string DeletedUserName = "Deleted user";

    public Task Consume(ConsumeContext<UserDeleted> context) => EraseAsync(context.Message.UserId, context.CancellationToken);

    public async Task EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        var name = await session.LoadAsync<UserName>(userId, cancellationToken);
        var quoting = await session.Query<Notification>().Where(n => n.ActorId == userId).ToListAsync(cancellationToken);
        foreach (var notification in quoting)
        {
            notification.Title = name is { Deleted: false, DisplayName.Length: > 0 }
                ? notification.Title.Replace(name.DisplayName, DeletedUserName, StringComparison.Ordinal)
                : DeletedUserName;
            notification.Body = null;
            notification.Deleted = true;
            notification.ActorId = null;
            session.Store(notification);
        }
        session.DeleteWhere<Notification>(n => n.UserId == userId);
        session.DeleteWhere<PendingPush>(p => p.UserId == userId);
        session.DeleteWhere<PushSubscriptionDoc>(s => s.UserId == userId);
        session.Delete<Preferences>(userId);
        session.Delete<UserPresence>(userId);
        var cursorPrefix = $"{userId:N}:";
        session.DeleteWhere<ReadCursor>(c => c.Id.StartsWith(cursorPrefix));
        session.Store(new UserName { Id = userId, DisplayName = DeletedUserName, Deleted = true });
        await session.SaveChangesAsync(cancellationToken);
        // The user's webhooks go; what is still queued elsewhere loses whatever the user wrote.
        await webhooks.DeleteOwnedByAsync(userId, cancellationToken);
        await webhooks.RewritePendingBodiesAsync(userId, byActor: true, WebhookQueue.Redact, cancellationToken);
        logger.LogInformation("Erased deleted user {UserId}: {Count} notifications of others anonymised", userId, quoting.Count);
    }
}
