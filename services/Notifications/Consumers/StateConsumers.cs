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
        thread.Followers.Remove(change.UserId);
        thread.Unfollowers.Remove(change.UserId);
        (change.Following ? thread.Followers : thread.Unfollowers).Add(change.UserId);
        session.Store(thread);
        await session.SaveChangesAsync(context.CancellationToken);
    }

    /// <summary>A flush of Messaging's receipt changes: each member's highest read cursor, saved together.</summary>
    public async Task Consume(ConsumeContext<ReceiptsChangedBatch> context)
    {
        var reads = context.Message.Items
            .Where(receipt => receipt.ReadSeq is not null)
            .GroupBy(receipt => (receipt.UserId, receipt.ConversationId), receipt => receipt.ReadSeq!.Value);
        var changed = false;
        foreach (var read in reads)
            changed |= await ReadAsync(read.Key.UserId, read.Key.ConversationId, read.Max(), context.CancellationToken);
        if (changed)
            await session.SaveChangesAsync(context.CancellationToken);
    }

    public async Task Consume(ConsumeContext<ReceiptsChanged> context)
    {
        if (context.Message.ReadSeq is { } read && await ReadAsync(context.Message.UserId, context.Message.ConversationId, read, context.CancellationToken))
            await session.SaveChangesAsync(context.CancellationToken);
    }

    // Stages what a read cursor moved to changes; false when it had not moved.
    private async Task<bool> ReadAsync(Guid userId, Guid conversationId, long read, CancellationToken cancellationToken)
    {
        var key = ReadCursor.KeyOf(userId, conversationId);
        var cursor = await session.LoadAsync<ReadCursor>(key, cancellationToken);
        if (cursor is not null && cursor.ReadSeq >= read)
            return false;
        session.Store(new ReadCursor { Id = key, ReadSeq = read });
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
        return true;
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
