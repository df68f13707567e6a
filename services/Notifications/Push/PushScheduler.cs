using Marten;
using Microsoft.Extensions.Options;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Push;

/// <summary>
/// Puts a new notification on its way to the user's devices: into the pending push of that user and conversation
/// (coalescing a burst), due after the coalescing window, or, when the user is connected, after the unread delay.
/// </summary>
public sealed class PushScheduler(IOptions<NotificationsOptions> options, TimeProvider time)
{
    public async Task ScheduleAsync(IDocumentSession session, Notification notification, string where, CancellationToken cancellationToken)
    {
        if (!await session.Query<PushSubscriptionDoc>().AnyAsync(s => s.UserId == notification.UserId, cancellationToken))
            return;
        var now = time.GetUtcNow();
        var presence = await session.LoadAsync<UserPresence>(notification.UserId, cancellationToken);
        var due = now + (presence?.Online == true ? options.Value.UnreadDelay : options.Value.CoalesceWindow);
        var pending = await session.Query<PendingPush>()
            .Where(p => p.UserId == notification.UserId && p.ConversationId == notification.ConversationId && p.ClaimedUntil == null && !p.Correction)
            .FirstOrDefaultAsync(cancellationToken);
        if (pending is null)
        {
            session.Store(new PendingPush
            {
                Id = Guid.CreateVersion7(now),
                UserId = notification.UserId,
                ConversationId = notification.ConversationId,
                NotificationIds = [notification.Id],
                FirstAt = now,
                DueAt = due,
            });
            return;
        }
        pending.NotificationIds.Add(notification.Id);
        if (due < pending.DueAt)
            pending.DueAt = due;
        session.Store(pending);
    }
}
