using Marten;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Push;

/// <summary>
/// Keeps a push already shown on a device true: when a notification it showed is edited, deleted (by its author or by
/// retention) or read (on another device, or in the feed), a correction for that user and conversation is due at once.
/// The dispatcher then sends, under the same Web Push <c>Topic</c> / APNs <c>apns-collapse-id</c> / FCM tag, either
/// the current text of what is still unread or a withdrawal.
/// </summary>
public static class PushCorrections
{
    public static async Task ScheduleAsync(IDocumentSession session, IEnumerable<Notification> changed, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var shown = changed.Where(n => n.PushedAt is not null && !n.PushWithdrawn && n.ConversationId is not null)
            .Select(n => (n.UserId, ConversationId: n.ConversationId!.Value)).Distinct().ToList();
        foreach (var (userId, conversationId) in shown)
        {
            var waiting = await session.Query<PendingPush>()
                .AnyAsync(p => p.UserId == userId && p.ConversationId == conversationId && p.Correction && p.ClaimedUntil == null, cancellationToken);
            if (waiting)
                continue;
            session.Store(new PendingPush
            {
                Id = Guid.CreateVersion7(now), UserId = userId, ConversationId = conversationId, Correction = true, FirstAt = now, DueAt = now,
            });
        }
    }
}
