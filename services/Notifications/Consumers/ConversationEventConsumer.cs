using JasperFx;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Contracts.Notifications;
using Platform.Notifications.Domain;
using Platform.Notifications.Push;
using Platform.Notifications.Webhooks;

namespace Platform.Notifications.Consumers;

/// <summary>
/// Conversation events: memberships and titles are remembered; a posted message notifies whoever the rules say; an
/// edit rewrites, and a delete erases, the text of its notifications (and so of pushes still pending). Each event is
/// handled once: its <see cref="ProcessedEvent"/> is written in the same transaction as its notifications.
/// </summary>
public sealed class ConversationEventConsumer(
    IDocumentSession session, PushScheduler pushes, WebhookQueue webhooks, LargeConversations large, IOptions<NotificationsOptions> options,
    TimeProvider time, ILogger<ConversationEventConsumer> logger)
    : IConsumer<ConversationEvent>
{
    public async Task Consume(ConsumeContext<ConversationEvent> context)
    {
        var created = await ApplyAsync(context.Message, context.GetRetryAttempt(), context.CancellationToken);
        // All of them in one message: the Gateways hand each to its user's connections.
        if (created.Count > 0)
            await context.Publish(new NotificationsCreated
            {
                Notifications = created.ConvertAll(notification => new NotificationCreated
                {
                    NotificationId = notification.Id,
                    UserId = notification.UserId,
                    Kind = notification.Kind,
                    ConversationId = notification.ConversationId,
                    Seq = notification.Seq,
                    Title = notification.Title,
                    Body = notification.Body,
                    CreatedAt = notification.CreatedAt,
                }),
            }, context.CancellationToken);
        // After the state the event changes (a departed owner's webhook gets nothing more); idempotent, so a retry after
        // a failure here queues each delivery once.
        await webhooks.EnqueueAsync(session, context.Message, context.CancellationToken);
    }

    /// <summary>
    /// One event's effect, live (<paramref name="retryAttempt"/> of the bus's retries) or replayed from Messaging's log
    /// (<see cref="ReplayAsync"/>). Returns the notifications created, which the caller announces after the commit.
    /// </summary>
    public async Task<List<Notification>> ApplyAsync(ConversationEvent e, int retryAttempt, CancellationToken cancellationToken)
    {
        var marker = ProcessedEvent.KeyOf(e.ConversationId, e.Seq);
        // A posted message (most events) reads what it needs in one round trip with its processed mark.
        Prefetched? prefetched = e.TryRead<MessageDto>(out var message) ? await PrefetchAsync(marker, e, message, cancellationToken) : null;
        if (prefetched is not null ? prefetched.Processed : await session.LoadAsync<ProcessedEvent>(marker, cancellationToken) is not null)
            return [];
        session.Insert(new ProcessedEvent { Id = marker, At = time.GetUtcNow() });

        List<Notification> created = [];
        switch (e.Read())
        {
            case ConversationCreatedData conversationCreated:
                var info = await session.LoadAsync<ConversationInfo>(e.ConversationId, cancellationToken) ?? new ConversationInfo { Id = e.ConversationId };
                info.Kind = conversationCreated.Kind;
                if (info.TitleSeq < e.Seq)
                    (info.Title, info.TitleSeq) = (conversationCreated.Title, e.Seq);
                foreach (var member in conversationCreated.Members)
                    SetMember(info, member.UserId, e.Seq, active: true, member.Role);
                session.Store(info);
                break;
            case ConversationUpdatedData updated:
                await UpdateAsync(e.ConversationId, info =>
                {
                    if (info.TitleSeq < e.Seq)
                        (info.Title, info.TitleSeq) = (updated.Title, e.Seq);
                }, cancellationToken);
                break;
            case MemberJoinedData joined:
                await UpdateAsync(e.ConversationId, info => SetMember(info, joined.UserId, e.Seq, active: true, joined.Role), cancellationToken);
                break;
            case MemberLeftData left:
                await UpdateAsync(e.ConversationId, info => SetMember(info, left.UserId, e.Seq, active: false, role: null), cancellationToken);
                break;
            case MemberRoleChangedData roleChanged:
                // Kept for outgoing webhooks: only a conversation's admins and owners may have its events sent out.
                await UpdateAsync(e.ConversationId, info =>
                {
                    if (!info.Members.TryGetValue(roleChanged.UserId, out var known) || known.Seq < e.Seq)
                        info.Members[roleChanged.UserId] = new MemberState(e.Seq, known?.Active ?? true, roleChanged.Role);
                }, cancellationToken);
                break;
            case MessageDto posted:
                created = await NotifyAsync(retryAttempt, e, posted, prefetched!, cancellationToken);
                break;
            case MessageEditedData edited:
                var rewritten = await session.Query<Notification>().Where(n => n.MessageId == edited.MessageId).ToListAsync(cancellationToken);
                foreach (var notification in rewritten)
                {
                    notification.Body = Preview(edited.Text);
                    session.Store(notification);
                }
                await PushCorrections.ScheduleAsync(session, rewritten, time.GetUtcNow(), cancellationToken);
                break;
            case MessageDeletedData deleted:
                var cleared = await session.Query<Notification>().Where(n => n.MessageId == deleted.MessageId).ToListAsync(cancellationToken);
                foreach (var notification in cleared)
                {
                    notification.Deleted = true;
                    notification.Body = null;
                    session.Store(notification);
                }
                await PushCorrections.ScheduleAsync(session, cleared, time.GetUtcNow(), cancellationToken);
                break;
        }

        try
        {
            await session.SaveChangesAsync(cancellationToken);
        }
        catch (DocumentAlreadyExistsException)
        {
            return []; // Handled meanwhile by another replica (or the backfill).
        }
        return created;
    }

    /// <summary>
    /// The backfill from Messaging's log: conversations, kinds, titles, memberships and thread participants are rebuilt
    /// by the same code; edits and deletes rewrite or clear whatever notifications exist. A posted message creates no
    /// notification and no push (an old message must not ring anyone's phone), and leaves no processed mark: if the same
    /// message still arrives live (it was posted while the backfill ran), it is notified as usual.
    /// </summary>
    public async Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        if (!e.TryRead<MessageDto>(out var posted))
        {
            await ApplyAsync(e, retryAttempt: int.MaxValue, cancellationToken);
            return;
        }
        if (await session.LoadAsync<ProcessedEvent>(ProcessedEvent.KeyOf(e.ConversationId, e.Seq), cancellationToken) is not null)
            return;
        await RememberMessageAsync(Posted(e, posted), cancellationToken);
        await session.SaveChangesAsync(cancellationToken);
    }

    private static PostedMessage Posted(ConversationEvent e, MessageDto message) =>
        new(message.Id, e.ConversationId, e.Seq, message.SenderId, (message.Mentions ?? []).ToHashSet(), message.ReplyTo, message.MassMention);

    /// <summary>The message's author, and its sender among its thread's repliers; returns the thread's participants before it.</summary>
    private async Task<HashSet<Guid>> RememberMessageAsync(PostedMessage message, CancellationToken cancellationToken, Prefetched? prefetched = null)
    {
        var threadParticipants = new HashSet<Guid>();
        // Replies that arrived first (another order on the bus, live beside the backfill) keep their place among the repliers.
        var known = prefetched is not null ? prefetched.Message : await session.LoadAsync<MessageRef>(message.MessageId, cancellationToken);
        if (known is null)
            session.Store(new MessageRef { Id = message.MessageId, ConversationId = message.ConversationId, SenderId = message.SenderId });
        else if (known.SenderId == Guid.Empty)
        {
            // A follow of this thread came first (ThreadFollowChanged): now its author is known.
            known.SenderId = message.SenderId;
            session.Store(known);
        }
        if (message.ReplyTo is { } root && (prefetched is not null ? prefetched.Root : await session.LoadAsync<MessageRef>(root, cancellationToken)) is { } thread)
        {
            threadParticipants.Add(thread.SenderId);
            threadParticipants.UnionWith(thread.Repliers);
            threadParticipants.UnionWith(thread.Followers);
            threadParticipants.ExceptWith(thread.Unfollowers);
            // Replying follows the thread again (as in Messaging).
            if (!thread.Repliers.Contains(message.SenderId) || thread.Unfollowers.Contains(message.SenderId))
            {
                if (!thread.Repliers.Contains(message.SenderId))
                    thread.Repliers.Add(message.SenderId);
                thread.Unfollowers.Remove(message.SenderId);
                session.Store(thread);
            }
        }
        return threadParticipants;
    }

    /// <summary>What a posted message's notifying reads by id, with its processed mark: one round trip.</summary>
    private sealed record Prefetched(bool Processed, ConversationInfo? Conversation, MessageRef? Message, MessageRef? Root, UserName? Sender);

    private async Task<Prefetched> PrefetchAsync(string marker, ConversationEvent e, MessageDto message, CancellationToken cancellationToken)
    {
        // A large conversation's document is kept between its messages while its stored version stands (read first).
        var version = large.IsLarge(e.ConversationId) ? await LargeConversations.VersionAsync(session, e.ConversationId, cancellationToken) : null;
        var kept = version is { } current ? large.Get(e.ConversationId, current) : null;
        var batch = session.CreateBatchQuery();
        var processed = batch.Load<ProcessedEvent>(marker);
        var conversation = kept is null ? batch.Load<ConversationInfo>(e.ConversationId) : Task.FromResult<ConversationInfo?>(kept);
        var known = batch.Load<MessageRef>(message.Id);
        var root = message.ReplyTo is { } rootId ? batch.Load<MessageRef>(rootId) : Task.FromResult<MessageRef?>(null);
        var sender = batch.Load<UserName>(message.SenderId);
        await batch.Execute(cancellationToken);
        if (kept is null && await conversation is { } loaded)
            large.Loaded(loaded, options.Value.LargeGroup, version);
        return new Prefetched(await processed is not null, await conversation, await known, await root, await sender);
    }

    private async Task<List<Notification>> NotifyAsync(int retryAttempt, ConversationEvent e, MessageDto posted, Prefetched prefetched, CancellationToken cancellationToken)
    {
        var message = Posted(e, posted);

        var conversation = prefetched.Conversation;
        if (conversation is null)
        {
            // Its creation may still be on its way (another replica, a retry, the backfill): wait for it a few times.
            if (retryAttempt < 3)
                throw new InvalidOperationException($"Conversation {e.ConversationId} is not known yet.");
            logger.LogWarning("Message {MessageId} of the unknown conversation {ConversationId} notifies no one", message.MessageId, e.ConversationId);
            return [];
        }

        var threadParticipants = await RememberMessageAsync(message, cancellationToken, prefetched);

        var members = conversation.ActiveMembers.ToList();
        var candidates = await CandidatesAsync(e.ConversationId, conversation.Kind, members, message, threadParticipants, cancellationToken);
        // The candidates' preferences, read cursors, push subscriptions and (for @here) presence: one round trip.
        var reads = session.CreateBatchQuery();
        var preferencesRead = reads.LoadMany<Preferences>().ByIdList(candidates);
        var cursorsRead = reads.LoadMany<ReadCursor>().ById(candidates.Select(m => ReadCursor.KeyOf(m, e.ConversationId)).ToArray());
        var subscribedRead = reads.Query<PushSubscriptionDoc>().Where(p => p.UserId.IsOneOf(candidates)).Select(p => p.UserId).ToList();
        // @here reaches the members online now, as Presence last told us (PresenceChanged, kept as UserPresence).
        var presenceRead = message.MassMention == "here" ? reads.LoadMany<UserPresence>().ByIdList(candidates) : Task.FromResult<IReadOnlyList<UserPresence>>([]);
        await reads.Execute(cancellationToken);
        var preferences = (await preferencesRead).ToDictionary(p => p.Id);
        var cursors = (await cursorsRead).ToDictionary(c => c.Id, c => c.ReadSeq);
        var subscribed = (await subscribedRead).ToHashSet();
        var online = (await presenceRead).Where(p => p.Online).Select(p => p.Id).ToHashSet();
        var now = time.GetUtcNow();
        var decided = Recipients.Decide(message, conversation.Kind, candidates, threadParticipants,
            member => Recipients.LevelOf(preferences.GetValueOrDefault(member), e.ConversationId, conversation.Kind, members.Count, options.Value.LargeGroup, now),
            member => cursors.GetValueOrDefault(ReadCursor.KeyOf(member, e.ConversationId)),
            member => online.Contains(member));
        if (decided.Count == 0)
            return [];

        var sender = prefetched.Sender?.DisplayName ?? "Someone";
        var where = conversation.Title is { Length: > 0 } title ? (conversation.Kind == "channel" ? "#" + title : title) : "a conversation";
        var created = new List<Notification>();
        foreach (var (userId, kind) in decided)
        {
            var notification = new Notification
            {
                Id = Guid.CreateVersion7(now),
                UserId = userId,
                Kind = kind,
                ConversationId = e.ConversationId,
                Seq = e.Seq,
                MessageId = message.MessageId,
                ActorId = message.SenderId,
                Title = kind switch
                {
                    Kinds.DirectMessage => sender,
                    Kinds.Mention => $"{sender} mentioned you in {where}",
                    Kinds.Reply => $"{sender} replied in a thread in {where}",
                    _ => $"{sender} in {where}",
                },
                Body = Preview(posted.Text),
                CreatedAt = now,
            };
            session.Insert(notification);
            created.Add(notification);
            if (subscribed.Contains(userId))
                await pushes.ScheduleAsync(session, notification, where, cancellationToken);
        }
        return created;
    }

    /// <summary>
    /// The members a message can notify. In a conversation whose members hear only of mentions unless they chose more
    /// (a channel, a group larger than <see cref="NotificationsOptions.LargeGroup"/>), a message without <c>@channel</c>
    /// or <c>@here</c> can notify only whom it mentions, the thread's participants and the members whose own preferences
    /// may raise the level (a default, or a level for this conversation): PostgreSQL finds those among all the members,
    /// so a message in a 1,000-member channel reads a handful of preferences and cursors instead of 2,000 documents.
    /// Everyone else would be decided "not notified" by <see cref="Recipients.Decide"/> anyway.
    /// </summary>
    private async Task<List<Guid>> CandidatesAsync(Guid conversationId, string kind, List<Guid> members, PostedMessage message,
        IReadOnlySet<Guid> threadParticipants, CancellationToken cancellationToken)
    {
        var byDefault = Recipients.LevelOf(null, conversationId, kind, members.Count, options.Value.LargeGroup, time.GetUtcNow());
        if (message.MassMention is not null || byDefault != Levels.Mentions)
            return members;
        var chose = await session.Query<Preferences>()
            .Where(p => p.Id.IsOneOf(members) && (p.Default != null || p.Conversations.Any(c => c.ConversationId == conversationId)))
            .Select(p => p.Id)
            .ToListAsync(cancellationToken);
        var heard = new HashSet<Guid>(chose);
        heard.UnionWith(message.Mentions);
        heard.UnionWith(threadParticipants);
        return members.Where(heard.Contains).ToList();
    }

    private async Task UpdateAsync(Guid conversationId, Action<ConversationInfo> change, CancellationToken cancellationToken)
    {
        var info = await session.LoadAsync<ConversationInfo>(conversationId, cancellationToken) ?? new ConversationInfo { Id = conversationId };
        change(info);
        session.Store(info);
    }

    // Joins and leaves of one member apply in seq order, whatever order they arrive in.
    private static void SetMember(ConversationInfo info, Guid userId, long seq, bool active, string? role)
    {
        if (!info.Members.TryGetValue(userId, out var known) || known.Seq < seq)
            info.Members[userId] = new MemberState(seq, active, active ? role ?? known?.Role : null);
    }

    public static string? Preview(string? text) => text is null ? null : text.Length <= 200 ? text : text[..199] + "…";
}

/// <summary>
/// Conversations in parallel, each conversation's events one at a time: the events are partitioned by conversation
/// (<see cref="Partitions"/> at once per replica). Not strictly in the order Messaging published them: deliveries that
/// overtake each other before the partitioner are not put back in order, which the consumer tolerates (joins and leaves
/// apply by seq; a message of a conversation not yet known is retried), though the feed then follows processing order. One event at a time for the
/// whole replica fell behind at about 30 posted messages a second under load, so notifications (and pushes) came later
/// and later.
/// </summary>
public sealed class ConversationEventConsumerDefinition : ConsumerDefinition<ConversationEventConsumer>
{
    public const int Partitions = 8;

    public ConversationEventConsumerDefinition() => ConcurrentMessageLimit = Partitions;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<ConversationEventConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        consumerConfigurator.Message<ConversationEvent>(message => message.UsePartitioner(Partitions, consumed => consumed.Message.ConversationId));
}
