using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Consumers;

/// <summary>
/// What decides pushes besides the events themselves: how far members have read (a notification read is no longer
/// pushed, and leaves the unread count), whether a user is connected or in do-not-disturb, and display names.
/// </summary>
public sealed class StateConsumer(IDocumentSession session, TimeProvider time)
    : IConsumer<ReceiptsChangedBatch>, IConsumer<ReceiptsChanged>, IConsumer<PresenceChanged>, IConsumer<UserRegistered>, IConsumer<UserProfileChanged>, IConsumer<ThreadFollowChanged>
{
    /// <summary>
    /// A thread followed or unfollowed by hand: its replies notify (as <c>reply</c>, at level <c>mentions</c> too) the
    /// followers, and not those who unfollowed, whether they wrote the root or replied. Replying again follows again.
    /// </summary>
    public async Task Consume(ConsumeContext<ThreadFollowChanged> context)
    {
        var change = context.Message;
        var thread = await session.LoadAsync<MessageRef>(change.RootId, context.CancellationToken)
            ?? new MessageRef { Id = change.RootId, ConversationId = change.ConversationId };
        // A change older than the one applied (published again after a later one) changes nothing.
        if (thread.FollowChangedAt.TryGetValue(change.UserId, out var applied) && applied > change.ChangedAt)
            return;
        thread.FollowChangedAt[change.UserId] = change.ChangedAt;
        thread.Followers.Remove(change.UserId);
        thread.Unfollowers.Remove(change.UserId);
        (change.Following ? thread.Followers : thread.Unfollowers).Add(change.UserId);
        session.Store(thread);
        await session.SaveChangesAsync(context.CancellationToken);
    }

    /// <summary>
    /// A flush of Messaging's receipt changes: each member's highest read cursor; the known cursors in one read, and what
    /// moved saved together (most changes of a flush are delivered cursors, the read ones as they were).
    /// </summary>
    public async Task Consume(ConsumeContext<ReceiptsChangedBatch> context)
    {
        var reads = context.Message.Items
            .Where(receipt => receipt.ReadSeq is not null)
            .GroupBy(receipt => ReadCursor.KeyOf(receipt.UserId, receipt.ConversationId))
            .Select(group => (Key: group.Key, group.First().UserId, group.First().ConversationId, Read: group.Max(receipt => receipt.ReadSeq!.Value)))
            .ToList();
        if (reads.Count == 0)
            return;
        var known = (await session.LoadManyAsync<ReadCursor>(context.CancellationToken, reads.Select(read => read.Key))).ToDictionary(cursor => cursor.Id);
        var changed = false;
        foreach (var read in reads.Where(read => !known.TryGetValue(read.Key, out var cursor) || cursor.ReadSeq < read.Read))
        {
            await MarkReadAsync(read.UserId, read.ConversationId, read.Read, context.CancellationToken);
            changed = true;
        }
        if (changed)
            await session.SaveChangesAsync(context.CancellationToken);
    }

    public async Task Consume(ConsumeContext<ReceiptsChanged> context)
    {
        var receipt = context.Message;
        if (receipt.ReadSeq is not { } read)
            return;
        var cursor = await session.LoadAsync<ReadCursor>(ReadCursor.KeyOf(receipt.UserId, receipt.ConversationId), context.CancellationToken);
        if (cursor is not null && cursor.ReadSeq >= read)
            return;
        await MarkReadAsync(receipt.UserId, receipt.ConversationId, read, context.CancellationToken);
        await session.SaveChangesAsync(context.CancellationToken);
    }

    // Stages the read cursor's move: the cursor, the notifications now read, the corrections of pushes still shown.
    private async Task MarkReadAsync(Guid userId, Guid conversationId, long read, CancellationToken cancellationToken)
    {
        session.Store(new ReadCursor { Id = ReadCursor.KeyOf(userId, conversationId), ReadSeq = read });
        var now = time.GetUtcNow();
        var marked = await session.Query<Notification>()
            .Where(n => n.UserId == userId && n.ConversationId == conversationId && n.Seq <= read && n.ReadAt == null)
            .ToListAsync(cancellationToken);
        foreach (var notification in marked)
        {
            notification.ReadAt = now;
            session.Store(notification);
        }
        // Read on one device: the push the others still show is withdrawn (or shows only what is still unread).
        await Push.PushCorrections.ScheduleAsync(session, marked, now, cancellationToken);
    }

    public async Task Consume(ConsumeContext<PresenceChanged> context)
    {
        var change = context.Message;
        var known = await session.LoadAsync<UserPresence>(change.UserId, context.CancellationToken);
        if (known is not null && known.Version >= change.Version)
            return;
        session.Store(new UserPresence
        {
            Id = change.UserId, Online = change.Status == "online", DoNotDisturb = change.Availability == "dnd", Version = change.Version,
        });
        await session.SaveChangesAsync(context.CancellationToken);
    }

    public Task Consume(ConsumeContext<UserRegistered> context) => NameAsync(context.Message.UserId, context.Message.DisplayName, context.CancellationToken);

    public Task Consume(ConsumeContext<UserProfileChanged> context) => NameAsync(context.Message.UserId, context.Message.DisplayName, context.CancellationToken);

    private async Task NameAsync(Guid userId, string displayName, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<UserName>(userId, cancellationToken) is { Deleted: true })
            return;
        session.Store(new UserName { Id = userId, DisplayName = displayName });
        await session.SaveChangesAsync(cancellationToken);
    }
}
