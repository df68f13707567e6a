using JasperFx;
using Marten;
using Microsoft.Extensions.Options;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Push;

/// <summary>
/// Sends the pushes that are due. At send time it looks again: notifications read or deleted meanwhile are left out
/// (and edited ones carry their new text), quiet hours and do-not-disturb hold the push, a connected user is pushed
/// only if the notification is still unread after the unread delay. 404/410 from a push service removes the
/// subscription; 429/5xx are retried with exponential backoff (honouring Retry-After). One replica sends each push:
/// it claims the pending push first (optimistic concurrency).
/// </summary>
public sealed class PushDispatcher(
    IDocumentStore store, IEnumerable<IPushSender> senders, IOptions<NotificationsOptions> options, TimeProvider time, ILogger<PushDispatcher> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeProvider Clock => time;

    private static readonly TimeSpan ClaimFor = TimeSpan.FromMinutes(1);

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override Task RunPassAsync(CancellationToken cancellationToken) => DispatchDueAsync(cancellationToken);

    public async Task DispatchDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        IReadOnlyList<PendingPush> due;
        await using (var query = store.QuerySession())
            due = await query.Query<PendingPush>()
                .Where(p => p.DueAt <= now && (p.ClaimedUntil == null || p.ClaimedUntil < now))
                .OrderBy(p => p.DueAt).Take(100).ToListAsync(cancellationToken);
        foreach (var candidate in due)
        {
            await using var session = store.LightweightSession();
            var pending = await session.LoadAsync<PendingPush>(candidate.Id, cancellationToken);
            if (pending is null || pending.DueAt > now || pending.ClaimedUntil >= now)
                continue;
            pending.ClaimedUntil = now + ClaimFor;
            session.Store(pending);
            try
            {
                await session.SaveChangesAsync(cancellationToken);
            }
            catch (ConcurrencyException)
            {
                continue; // Another replica has it, or a notification just joined it.
            }
            await SendAsync(pending, cancellationToken);
        }
    }

    private async Task SendAsync(PendingPush claimed, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        // Loaded again in this session, so the write back is checked against the version of our claim.
        var pending = await session.LoadAsync<PendingPush>(claimed.Id, cancellationToken);
        if (pending is null || pending.ClaimedUntil != claimed.ClaimedUntil)
            return;
        if (pending.Correction)
        {
            await CorrectAsync(session, pending, cancellationToken);
            return;
        }
        var now = time.GetUtcNow();
        var cursor = pending.ConversationId is { } conversationId
            ? await session.LoadAsync<ReadCursor>(ReadCursor.KeyOf(pending.UserId, conversationId), cancellationToken) : null;
        var notifications = (await session.LoadManyAsync<Notification>(cancellationToken, pending.NotificationIds))
            .Where(n => !n.Deleted && n.ReadAt is null && (cursor is null || n.Seq > cursor.ReadSeq))
            .OrderBy(n => n.CreatedAt).ToList();
        if (notifications.Count == 0)
        {
            session.Delete(pending);
            await session.SaveChangesAsync(cancellationToken);
            return;
        }

        var preferences = await session.LoadAsync<Preferences>(pending.UserId, cancellationToken);
        var presence = await session.LoadAsync<UserPresence>(pending.UserId, cancellationToken);
        DateTimeOffset? holdUntil = Quiet.EndOf(preferences?.QuietHours, now);
        if (holdUntil is null && presence?.DoNotDisturb == true)
            holdUntil = now + options.Value.DoNotDisturbRecheck;
        if (holdUntil is null && presence?.Online == true && now - pending.FirstAt < options.Value.UnreadDelay)
            holdUntil = pending.FirstAt + options.Value.UnreadDelay;
        if (holdUntil is { } until)
        {
            Release(session, pending, until);
            await session.SaveChangesAsync(cancellationToken);
            return;
        }

        var payload = await PayloadAsync(session, pending, notifications, cancellationToken);
        if (await DeliverAsync(session, pending, payload, cancellationToken))
        {
            session.Delete(pending);
            foreach (var notification in notifications)
            {
                notification.PushedAt = now;
                notification.PushWithdrawn = false;
                session.Store(notification);
            }
        }
        await session.SaveChangesAsync(cancellationToken);
    }

    /// <summary>
    /// A correction of what the user's devices show for the conversation: the notifications pushed there and not
    /// withdrawn, as they are now. Some still unread: the push is replaced with their current text. None: it is withdrawn.
    /// Quiet hours and presence do not hold it: it only changes a push already shown.
    /// </summary>
    private async Task CorrectAsync(IDocumentSession session, PendingPush pending, CancellationToken cancellationToken)
    {
        var shown = await session.Query<Notification>()
            .Where(n => n.UserId == pending.UserId && n.ConversationId == pending.ConversationId && n.PushedAt != null && !n.PushWithdrawn)
            .ToListAsync(cancellationToken);
        if (shown.Count == 0 || pending.ConversationId is not { } conversationId)
        {
            session.Delete(pending);
            await session.SaveChangesAsync(cancellationToken);
            return;
        }
        var cursor = await session.LoadAsync<ReadCursor>(ReadCursor.KeyOf(pending.UserId, conversationId), cancellationToken);
        var remaining = shown.Where(n => !n.Deleted && n.ReadAt is null && (cursor is null || n.Seq > cursor.ReadSeq)).OrderBy(n => n.CreatedAt).ToList();
        var payload = remaining.Count == 0
            ? PushPayload.Withdrawal(conversationId, shown.Select(n => n.Id).ToList())
            : (await PayloadAsync(session, pending, remaining, cancellationToken)) with { Action = PushActions.Update };
        if (await DeliverAsync(session, pending, payload, cancellationToken))
        {
            session.Delete(pending);
            if (remaining.Count == 0)
                foreach (var notification in shown)
                {
                    notification.PushWithdrawn = true;
                    session.Store(notification);
                }
        }
        await session.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Sends the payload to each of the user's subscriptions; false when some are to be tried again (the pending push is released for then).</summary>
    private async Task<bool> DeliverAsync(IDocumentSession session, PendingPush pending, PushPayload payload, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var subscriptions = await session.Query<PushSubscriptionDoc>().Where(s => s.UserId == pending.UserId).ToListAsync(cancellationToken);
        if (pending.RetrySubscriptionIds is { } retrying)
            subscriptions = subscriptions.Where(s => retrying.Contains(s.Id)).ToList();
        var retry = new List<Guid>();
        TimeSpan? retryAfter = null;
        foreach (var subscription in subscriptions)
        {
            var sender = senders.FirstOrDefault(s => s.Platform == subscription.Platform);
            if (sender is null)
            {
                logger.LogWarning("No {Platform} push sender is configured; subscription {SubscriptionId} is skipped", subscription.Platform, subscription.Id);
                continue;
            }
            PushResult result;
            try
            {
                result = await sender.SendAsync(subscription, payload, cancellationToken);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                result = new PushResult.Retry(null, exception.Message);
            }
            NotificationMetrics.Pushed(subscription.Platform, result.GetType().Name);
            switch (result)
            {
                case PushResult.Gone gone:
                    logger.LogInformation("Push subscription {SubscriptionId} is gone ({Reason}); removing it", subscription.Id, gone.Reason);
                    session.Delete(subscription);
                    break;
                case PushResult.Retry again:
                    retry.Add(subscription.Id);
                    if (again.After is { } after && (retryAfter is null || after > retryAfter))
                        retryAfter = after;
                    logger.LogInformation("Push to {SubscriptionId} will be retried: {Reason}", subscription.Id, again.Reason);
                    break;
                case PushResult.Failed failed:
                    logger.LogWarning("Push to {SubscriptionId} failed: {Reason}", subscription.Id, failed.Reason);
                    break;
            }
        }

        if (retry.Count > 0 && pending.Attempts + 1 < options.Value.MaxPushAttempts)
        {
            pending.Attempts++;
            pending.RetrySubscriptionIds = retry;
            var backoff = TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, pending.Attempts)));
            Release(session, pending, now + (retryAfter is { } hint && hint > backoff ? hint : backoff));
            return false;
        }
        return true;
    }

    private static void Release(IDocumentSession session, PendingPush pending, DateTimeOffset dueAt)
    {
        pending.DueAt = dueAt;
        pending.ClaimedUntil = null;
        session.Store(pending);
    }

    private static async Task<PushPayload> PayloadAsync(IDocumentSession session, PendingPush pending, List<Notification> notifications, CancellationToken cancellationToken)
    {
        var latest = notifications[^1];
        var kind = notifications.Select(n => n.Kind).OrderBy(k => k switch { Kinds.Mention => 0, Kinds.DirectMessage => 1, Kinds.Reply => 2, _ => 3 }).First();
        if (notifications.Count == 1)
            return new PushPayload(latest.Title, latest.Body, kind, latest.ConversationId, 1, [latest.Id]);
        var conversation = pending.ConversationId is { } id ? await session.LoadAsync<ConversationInfo>(id, cancellationToken) : null;
        var where = conversation?.Title is { Length: > 0 } title ? (conversation.Kind == "channel" ? "#" + title : title) : "a conversation";
        return new PushPayload($"{notifications.Count} new messages in {where}", latest.Body, kind, latest.ConversationId, notifications.Count,
            notifications.Select(n => n.Id).ToList());
    }
}
