using Marten;
using MassTransit;
using Platform.Contracts.Messaging;
using Platform.Media.Domain;
using Platform.Media.Features;
using Platform.ServiceDefaults;

namespace Platform.Media.Consumers;

/// <summary>
/// Learns from the conversation log who may read which file: memberships (created, joined, left), files attached to
/// posted messages, and deleted messages (whose files are deleted, also when retention deleted them). Every step is
/// idempotent, and an event delivered late never undoes a newer one, so redelivery and reordering change nothing.
/// </summary>
public sealed class ConversationEventConsumer(IDocumentSession session, MediaAccess access, LinkPreviews.LinkPreviewPublisher previews, TimeProvider time)
    : IConsumer<ConversationEvent>
{
    public Task Consume(ConsumeContext<ConversationEvent> context) => ApplyAsync(context.Message, live: true, context.CancellationToken);

    /// <summary>
    /// One event's effect, for the live consumer and for the backfill from Messaging's log (<see cref="ConversationLogReplay"/>).
    /// Replayed (<paramref name="live"/> false), everything that decides who may read what is rebuilt (memberships,
    /// attachments, deletions with their files); link previews are not fetched for old messages.
    /// </summary>
    public async Task ApplyAsync(ConversationEvent e, bool live, CancellationToken cancellationToken)
    {
        switch (e.Read())
        {
            case ConversationCreatedData created:
                foreach (var member in created.Members)
                    await SetMemberAsync(e, member.UserId, active: true, cancellationToken);
                await session.SaveChangesAsync(cancellationToken);
                break;
            case MemberJoinedData joined:
                await SetMemberAsync(e, joined.UserId, active: true, cancellationToken);
                await session.SaveChangesAsync(cancellationToken);
                break;
            case MemberLeftData left:
                await SetMemberAsync(e, left.UserId, active: false, cancellationToken);
                await session.SaveChangesAsync(cancellationToken);
                break;
            case MessageDto posted:
                await AttachAsync(e, posted, cancellationToken);
                if (live && posted.Urls is { Count: > 0 })
                    await previews.PreviewMessageAsync(e.ConversationId, posted.Id, e.ActorId, posted.Urls, cancellationToken);
                break;
            // An edit can bring new URLs; Messaging attaches a preview only while the message still holds its URL.
            case MessageEditedData edited when live && edited.Urls is { Count: > 0 }:
                await previews.PreviewMessageAsync(e.ConversationId, edited.MessageId, e.ActorId, edited.Urls, cancellationToken);
                break;
            case MessageDeletedData deleted:
                session.Store(new DeletedMessage { Id = deleted.MessageId, DeletedAt = time.GetUtcNow() });
                await session.SaveChangesAsync(cancellationToken);
                await DeleteFilesOfAsync(deleted.MessageId, cancellationToken);
                break;
        }
    }

    private async Task SetMemberAsync(ConversationEvent e, Guid userId, bool active, CancellationToken cancellationToken)
    {
        var key = ConversationMember.KeyOf(e.ConversationId, userId);
        var current = await session.LoadAsync<ConversationMember>(key, cancellationToken);
        if (current is not null && current.Seq >= e.Seq)
            return;
        session.Store(new ConversationMember { Id = key, ConversationId = e.ConversationId, UserId = userId, Active = active, Seq = e.Seq });
    }

    private async Task AttachAsync(ConversationEvent e, MessageDto message, CancellationToken cancellationToken)
    {
        var (messageId, senderId) = (message.Id, message.SenderId);
        var ids = (message.Attachments ?? []).Select(a => a.Id).Distinct().ToArray();
        if (ids.Length == 0)
            return;
        // Only the uploader can share a file: a message naming someone else's file id links nothing.
        var items = await session.LoadManyAsync<MediaItem>(cancellationToken, ids);
        foreach (var item in items.Where(i => i.OwnerId == senderId))
            session.Store(new AttachmentLink { Id = AttachmentLink.KeyOf(item.Id, messageId), MediaId = item.Id, ConversationId = e.ConversationId, MessageId = messageId });
        await session.SaveChangesAsync(cancellationToken);
        if (await session.LoadAsync<DeletedMessage>(messageId, cancellationToken) is not null)
            await DeleteFilesOfAsync(messageId, cancellationToken);
    }

    /// <summary>The message's files go, unless another message still carries them.</summary>
    private async Task DeleteFilesOfAsync(Guid messageId, CancellationToken cancellationToken)
    {
        var mediaIds = await session.Query<AttachmentLink>().Where(l => l.MessageId == messageId).Select(l => l.MediaId).ToListAsync(cancellationToken);
        if (mediaIds.Count == 0)
            return;
        session.DeleteWhere<AttachmentLink>(l => l.MessageId == messageId);
        await session.SaveChangesAsync(cancellationToken);
        var elsewhere = await session.Query<AttachmentLink>().Where(l => l.MediaId.IsOneOf(mediaIds.ToArray())).Select(l => l.MediaId).ToListAsync(cancellationToken);
        var orphans = mediaIds.Except(elsewhere).ToArray();
        if (orphans.Length == 0)
            return;
        var items = await session.LoadManyAsync<MediaItem>(cancellationToken, orphans);
        await access.DeleteAsync(session, items.ToList(), cancellationToken);
    }
}

/// <summary>
/// Media's queue gets only the events that change who may read a file: memberships, messages with attachments or links
/// (posted or edited), deletions. A plain message never reaches it.
/// </summary>
public sealed class ConversationEventConsumerDefinition : ConversationEventSubscriber<ConversationEventConsumer>
{
    protected override string[] RoutingKeys =>
    [
        ConversationEventTypes.ConversationCreated, ConversationEventTypes.MemberJoined, ConversationEventTypes.MemberLeft,
        ConversationEventTypes.MessagePosted + ConversationEventRouting.RichSuffix, ConversationEventTypes.MessageEdited + ConversationEventRouting.RichSuffix,
        ConversationEventTypes.MessageDeleted,
    ];
}
