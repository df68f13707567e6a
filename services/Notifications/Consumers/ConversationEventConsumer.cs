using JasperFx;
using Marten;
using Marten.Services.BatchQuerying;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Contracts.Notifications;
using Platform.Notifications.Domain;
using Platform.Notifications.Push;
using Platform.Notifications.Webhooks;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Consumers;

/// <summary>
/// Conversation events: memberships and titles are remembered; a posted message notifies whoever the rules say; an
/// edit rewrites, and a delete erases, the text of its notifications (and so of pushes still pending). Each event is
/// handled once: its <see cref="ProcessedEvent"/> is written in the same transaction as its notifications.
/// <para>
/// Events come in batches (<see cref="ConversationEventConsumerDefinition"/>), in the order the broker delivered them:
/// one transaction and one <see cref="NotificationsCreated"/> for a batch instead of one of each per event. An event
/// must see what the earlier events of its conversation wrote, so the batch is saved before an event whose conversation
/// already has unsaved changes in it. A batch that fails is retried (MassTransit retries a batch as a whole) one event at
/// a time, so that one event that cannot be handled holds up no other.
/// </para>
/// </summary>
public sealed class ConversationEventConsumer(
    IDocumentSession session, PushScheduler pushes, WebhookQueue webhooks, LargeConversations large, IOptions<NotificationsOptions> options,
    TimeProvider time, IServiceScopeFactory scopes, ILogger<ConversationEventConsumer> logger)
    : IConsumer<Batch<ConversationEvent>>
{
    public async Task Consume(ConsumeContext<Batch<ConversationEvent>> context)
    {
        var batch = context.Message;
        var cancellationToken = context.CancellationToken;
        if (batch.Length > 1 && context.GetRetryAttempt() > 0)
        {
            await OneAtATimeAsync(context);
            return;
        }
        List<Notification> saved = [], unsaved = [];
        var changed = new HashSet<Guid>();
        try
        {
            var events = batch.Select(consumed => consumed.Message).ToList();
            // Read before any event of the batch is handled: good only for the first event of each conversation.
            var prefetched = await PrefetchFirstsAsync(events, cancellationToken);
            foreach (var e in events)
            {
                if (changed.Contains(e.ConversationId))
                {
                    await SaveAsync(batch.Length, cancellationToken);
                    (saved, unsaved) = ([.. saved, .. unsaved], []);
                    changed.Clear();
                }
                if (await StageAsync(e, context.GetRetryAttempt(), cancellationToken, prefetched.GetValueOrDefault(e)) is { } created)
                {
                    unsaved.AddRange(created);
                    changed.Add(e.ConversationId);
                }
            }
            if (changed.Count > 0 && await SaveAsync(batch.Length, cancellationToken))
                saved.AddRange(unsaved);
        }
        catch (Exception) when (saved.Count > 0)
        {
            // What was saved is announced all the same: the retry finds those events processed and announces nothing.
            try
            {
                await AnnounceAsync(context, saved, CancellationToken.None);
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "{Count} notifications saved before the batch failed were not announced", saved.Count);
            }
            throw;
        }
        await AnnounceAsync(context, saved, cancellationToken);
        // After the state the events change (a departed owner's webhook gets nothing more); idempotent, so a retry after
        // a failure here queues each delivery once.
        await webhooks.EnqueueAsync(session, batch.Select(consumed => consumed.Message).ToList(), cancellationToken);
    }

    /// <summary>
    /// A batch being retried: each event on its own (its own scope, session and transaction), so that the events that
    /// can be handled are, and announced, while the one at fault fails the batch again. MassTransit retries and parks a
    /// batch as a whole; parked with it, the events handled here are replayed harmlessly (each is processed once).
    /// </summary>
    private async Task OneAtATimeAsync(ConsumeContext<Batch<ConversationEvent>> context)
    {
        List<Exception> failures = [];
        foreach (var consumed in context.Message)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var alone = scope.ServiceProvider.GetRequiredService<ConversationEventConsumer>();
                await alone.AloneAsync(context, consumed.Message);
            }
            catch (Exception exception) when (!ExceptionStatusCodes.IsDependencyOutage(exception))
            {
                logger.LogWarning(exception, "Event {Seq} of {ConversationId} failed on its own in a retried batch", consumed.Message.Seq, consumed.Message.ConversationId);
                failures.Add(exception);
            }
        }
        if (failures.Count > 0)
            throw failures.Count == 1 ? failures[0] : new AggregateException(failures);
    }

    private async Task AloneAsync(ConsumeContext context, ConversationEvent e)
    {
        await AnnounceAsync(context, await ApplyAsync(e, context.GetRetryAttempt(), context.CancellationToken), context.CancellationToken);
        await webhooks.EnqueueAsync(session, [e], context.CancellationToken);
    }

    /// <summary>
    /// Saves what is staged; false when a lone event turns out handled meanwhile (by another replica or the backfill).
    /// Such a duplicate among several events fails the batch, whose retry takes them one at a time.
    /// </summary>
    private async Task<bool> SaveAsync(int batchSize, CancellationToken cancellationToken)
    {
        try
        {
            await session.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DocumentAlreadyExistsException) when (batchSize == 1)
        {
            session.EjectAllPendingChanges();
            return false;
        }
    }

    // All of them in one message: the Gateways hand each to its user's connections.
    private static Task AnnounceAsync(ConsumeContext context, List<Notification> created, CancellationToken cancellationToken) => created.Count == 0
        ? Task.CompletedTask
        : context.Publish(new NotificationsCreated
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
        }, cancellationToken);

    /// <summary>
    /// One event's effect on its own, saved (the backfill's replay of Messaging's log, <see cref="ReplayAsync"/>).
    /// Returns the notifications created.
    /// </summary>
    public async Task<List<Notification>> ApplyAsync(ConversationEvent e, int retryAttempt, CancellationToken cancellationToken)
    {
        if (await StageAsync(e, retryAttempt, cancellationToken) is not { } created)
            return [];
        try
        {
            await session.SaveChangesAsync(cancellationToken);
        }
        catch (DocumentAlreadyExistsException)
        {
            return []; // Handled meanwhile by the live consumer or another replica.
        }
        return created;
    }

    /// <summary>
    /// One event's effect, staged on the session, not saved: null when the event was processed before, else the
    /// notifications it creates (<paramref name="retryAttempt"/>: of the bus's retries; int.MaxValue when replayed).
    /// </summary>
    private async Task<List<Notification>?> StageAsync(ConversationEvent e, int retryAttempt, CancellationToken cancellationToken, Prefetched? known = null)
    {
        var marker = ProcessedEvent.KeyOf(e.ConversationId, e.Seq);
        // A posted message (most events) reads what it needs in one round trip with its processed mark, unless its
        // batch read it (<paramref name="known"/>) with the other conversations' first messages.
        Prefetched? prefetched = e.TryRead<MessageDto>(out var message) ? known ?? await PrefetchAsync(marker, e, message, cancellationToken) : null;
        if (prefetched is not null ? prefetched.Processed : await session.LoadAsync<ProcessedEvent>(marker, cancellationToken) is not null)
            return null;
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
        new(message.Id, e.ConversationId, e.Seq, message.SenderId, (message.Mentions ?? []).ToHashSet(), message.ReplyTo, message.MassMention, message.CreatedAt);

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
            // Replying follows the thread again (as in Messaging), unless the replier changed their follow by hand after
            // this reply; the reply's time is kept like a follow change's, so a change made before it and arriving after
            // it (published again by Messaging's relay) changes nothing.
            var changedAt = thread.FollowChangedAt.TryGetValue(message.SenderId, out var at) ? at : (DateTimeOffset?)null;
            var changed = false;
            if (!thread.Repliers.Contains(message.SenderId))
            {
                thread.Repliers.Add(message.SenderId);
                changed = true;
            }
            if (changedAt is null || changedAt < message.PostedAt)
            {
                thread.Unfollowers.Remove(message.SenderId);
                thread.FollowChangedAt[message.SenderId] = message.PostedAt;
                changed = true;
            }
            if (changed)
                session.Store(thread);
        }
        return threadParticipants;
    }

    /// <summary>What a posted message's notifying reads by id, with its processed mark: one round trip.</summary>
    private sealed record Prefetched(bool Processed, ConversationInfo? Conversation, MessageRef? Message, MessageRef? Root, UserName? Sender)
    {
        /// <summary>The candidates' preferences, read cursors and push subscriptions, when the batch read them (else the message reads them).</summary>
        public RecipientDocuments? Recipients { get; init; }
    }

    /// <summary>What deciding a message's recipients reads of its candidates, for one message or several (keyed by user, or user and conversation).</summary>
    private sealed record RecipientDocuments(Dictionary<Guid, Preferences> Preferences, Dictionary<string, long> Cursors, HashSet<Guid> Subscribed);

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

    /// <summary>
    /// <see cref="PrefetchAsync"/> for several posted messages in one round trip (after one version read per large
    /// conversation): those that are the first event of their conversation in <paramref name="events"/>. A later event of
    /// a conversation must see what the earlier ones wrote, so it reads for itself when its turn comes. None when fewer
    /// than two would be read together.
    /// </summary>
    private async Task<Dictionary<ConversationEvent, Prefetched>> PrefetchFirstsAsync(List<ConversationEvent> events, CancellationToken cancellationToken)
    {
        var seen = new HashSet<Guid>();
        var posted = new List<(ConversationEvent Event, MessageDto Message)>();
        foreach (var e in events)
            if (seen.Add(e.ConversationId) && e.TryRead<MessageDto>(out var message))
                posted.Add((e, message));
        if (posted.Count < 2)
            return [];
        var conversationIds = posted.ConvertAll(p => p.Event.ConversationId);
        var versions = new Dictionary<Guid, Guid?>();
        var kept = new Dictionary<Guid, ConversationInfo>();
        foreach (var id in conversationIds.Where(large.IsLarge))
        {
            versions[id] = await LargeConversations.VersionAsync(session, id, cancellationToken);
            if (versions[id] is { } current && large.Get(id, current) is { } conversation)
                kept[id] = conversation;
        }
        var batch = session.CreateBatchQuery();
        var processedRead = batch.LoadMany<ProcessedEvent>().ById(posted.ConvertAll(p => ProcessedEvent.KeyOf(p.Event.ConversationId, p.Event.Seq)).ToArray());
        var conversationsRead = batch.LoadMany<ConversationInfo>().ById(conversationIds.Where(id => !kept.ContainsKey(id)).ToArray());
        var refsRead = batch.LoadMany<MessageRef>().ById(posted.SelectMany(p => p.Message.ReplyTo is { } root ? [p.Message.Id, root] : new[] { p.Message.Id }).Distinct().ToArray());
        var sendersRead = batch.LoadMany<UserName>().ById(posted.Select(p => p.Message.SenderId).Distinct().ToArray());
        await batch.Execute(cancellationToken);
        var processed = (await processedRead).Select(mark => mark.Id).ToHashSet();
        var conversations = new Dictionary<Guid, ConversationInfo>(kept);
        foreach (var loaded in await conversationsRead)
        {
            conversations[loaded.Id] = loaded;
            large.Loaded(loaded, options.Value.LargeGroup, versions.GetValueOrDefault(loaded.Id));
        }
        var refs = (await refsRead).ToDictionary(r => r.Id);
        var senders = (await sendersRead).ToDictionary(u => u.Id);
        // The second round trip, shared too: the candidates' documents of the messages whose candidates are all their
        // conversation's members (as CandidatesAsync decides without a query), except @here, which also reads presence.
        var shared = new List<(ConversationEvent Event, List<Guid> Candidates)>();
        foreach (var (e, message) in posted)
            if (!processed.Contains(ProcessedEvent.KeyOf(e.ConversationId, e.Seq)) && conversations.GetValueOrDefault(e.ConversationId) is { } conversation
                && message.MassMention != "here" && conversation.ActiveMembers.ToList() is var members
                && AllMembersAreCandidates(e.ConversationId, conversation.Kind, members.Count, message.MassMention))
                shared.Add((e, members));
        RecipientDocuments? recipients = null;
        if (shared.Count >= 2)
        {
            var reads = session.CreateBatchQuery();
            var recipientsRead = ReadRecipients(reads, shared.SelectMany(s => s.Candidates).Distinct().ToList(),
                shared.SelectMany(s => s.Candidates.Select(m => ReadCursor.KeyOf(m, s.Event.ConversationId))).ToArray());
            await reads.Execute(cancellationToken);
            recipients = await recipientsRead;
        }
        var sharing = shared.Select(s => s.Event).ToHashSet(ReferenceEqualityComparer.Instance);

        // By reference: the same event delivered twice in a batch is a later event of its conversation.
        var all = new Dictionary<ConversationEvent, Prefetched>(ReferenceEqualityComparer.Instance);
        foreach (var (e, message) in posted)
            all[e] = new Prefetched(
                processed.Contains(ProcessedEvent.KeyOf(e.ConversationId, e.Seq)),
                conversations.GetValueOrDefault(e.ConversationId),
                refs.GetValueOrDefault(message.Id),
                message.ReplyTo is { } rootId ? refs.GetValueOrDefault(rootId) : null,
                senders.GetValueOrDefault(message.SenderId))
            {
                Recipients = sharing.Contains(e) ? recipients : null,
            };
        return all;
    }

    /// <summary>Queues on <paramref name="reads"/> the candidates' preferences, read cursors (by key) and push subscriptions.</summary>
    private static async Task<RecipientDocuments> ReadRecipients(IBatchedQuery reads, List<Guid> candidates, string[] cursorKeys)
    {
        var preferencesRead = reads.LoadMany<Preferences>().ByIdList(candidates);
        var cursorsRead = reads.LoadMany<ReadCursor>().ById(cursorKeys);
        var subscribedRead = reads.Query<PushSubscriptionDoc>().Where(p => p.UserId.IsOneOf(candidates)).Select(p => p.UserId).ToList();
        return new RecipientDocuments((await preferencesRead).ToDictionary(p => p.Id), (await cursorsRead).ToDictionary(c => c.Id, c => c.ReadSeq),
            (await subscribedRead).ToHashSet());
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
        HashSet<Guid> online = [];
        if (prefetched.Recipients is not { } recipients)
        {
            // The candidates' preferences, read cursors, push subscriptions and (for @here) presence: one round trip.
            var reads = session.CreateBatchQuery();
            var recipientsRead = ReadRecipients(reads, candidates, candidates.Select(m => ReadCursor.KeyOf(m, e.ConversationId)).ToArray());
            // @here reaches the members online now, as Presence last told us (PresenceChanged, kept as UserPresence).
            var presenceRead = message.MassMention == "here" ? reads.LoadMany<UserPresence>().ByIdList(candidates) : Task.FromResult<IReadOnlyList<UserPresence>>([]);
            await reads.Execute(cancellationToken);
            recipients = await recipientsRead;
            online = (await presenceRead).Where(p => p.Online).Select(p => p.Id).ToHashSet();
        }
        var (preferences, cursors, subscribed) = recipients;
        var now = time.GetUtcNow();
        var decided = Recipients.Decide(message, conversation.Kind, candidates, threadParticipants,
            member => Recipients.LevelOf(preferences.GetValueOrDefault(member), e.ConversationId, conversation.Kind, members.Count, options.Value.LargeGroup, now),
            member => cursors.GetValueOrDefault(ReadCursor.KeyOf(member, e.ConversationId)),
            member => online.Contains(member));
        if (decided.Count == 0)
            return [];

        // A bot's or an incoming webhook's message carries the name it posts under (a webhook has no user to look up).
        var sender = (posted.SenderKind != "user" ? posted.SenderName : null) ?? prefetched.Sender?.DisplayName ?? "Someone";
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
        if (AllMembersAreCandidates(conversationId, kind, members.Count, message.MassMention))
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

    /// <summary>Whether every member may be notified of the message, so that its candidates need no query: a mass mention, or a conversation whose members hear of every message by default.</summary>
    private bool AllMembersAreCandidates(Guid conversationId, string kind, int memberCount, string? massMention) =>
        massMention is not null || Recipients.LevelOf(null, conversationId, kind, memberCount, options.Value.LargeGroup, time.GetUtcNow()) != Levels.Mentions;

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
/// Batches of up to <see cref="BatchLimit"/> events, cut <see cref="NotificationsOptions.EventBatchWindow"/> after a batch's first event, one batch
/// at a time per replica: a conversation's events are handled in the order the broker delivered them (MassTransit orders
/// a batch by delivery); a batch holds what arrives within that window of its first event, so the busier the
/// bus, the fewer transactions per event. (Before: one event per transaction, eight conversations at once through MassTransit's
/// partitioner, which did not keep deliveries that overtook each other before it in order.)
/// </summary>
public sealed class ConversationEventConsumerDefinition : ConsumerDefinition<ConversationEventConsumer>
{
    public const int BatchLimit = 50;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<ConversationEventConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        var window = context.GetRequiredService<IOptions<NotificationsOptions>>().Value.EventBatchWindow;
        consumerConfigurator.Options<BatchOptions>(batch => batch.SetMessageLimit(BatchLimit).SetTimeLimit(window).SetConcurrencyLimit(1));
    }
}
