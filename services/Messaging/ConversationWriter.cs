using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Messaging.Outbox;
using Platform.ServiceDefaults;

namespace Platform.Messaging;

/// <summary>
/// What a decision may look at while the conversation is locked: the conversation, memberships and messages,
/// each loaded at most once.
/// </summary>
public sealed class WriteContext(IDocumentSession session, ConversationView conversation)
{
    private readonly Dictionary<Guid, Membership?> _members = [];
    private readonly Dictionary<Guid, MessageView?> _messages = [];
    private readonly Dictionary<string, ClientMessageKey?> _clientKeys = [];
    private readonly Dictionary<Guid, CallView?> _calls = [];
    private readonly Dictionary<string, ThreadFollow?> _follows = [];
    private readonly HashSet<string> _changedFollows = [];
    private readonly Dictionary<string, InviteLink?> _links = [];
    private readonly HashSet<string> _changedLinks = [];
    private readonly Dictionary<string, UntoldFollowChange> _untoldFollows = [];
    // Only what the events changed is written back: a document merely read (a mentioned member, a reply's root)
    // must not overwrite a concurrent change to it, such as a receipt moving that member's cursors.
    private readonly HashSet<Guid> _changedMembers = [];
    private readonly HashSet<Guid> _changedMessages = [];
    private readonly HashSet<Guid> _changedCalls = [];

    public ConversationView Conversation { get; internal set; } = conversation;

    public IQuerySession Session => session;

    public async Task<Membership?> Member(Guid userId, CancellationToken cancellationToken = default)
    {
        if (!_members.TryGetValue(userId, out var member))
            _members[userId] = member = await session.LoadAsync<Membership>(Membership.KeyOf(Conversation.Id, userId), cancellationToken);
        return member;
    }

    public async Task<MessageView?> Message(Guid messageId, CancellationToken cancellationToken = default)
    {
        if (!_messages.TryGetValue(messageId, out var message))
        {
            message = await session.LoadAsync<MessageView>(messageId, cancellationToken);
            _messages[messageId] = message = message?.ConversationId == Conversation.Id ? message : null;
        }
        return message;
    }

    /// <summary>The message a client message id was already used for, if any.</summary>
    public async Task<ClientMessageKey?> ClientKey(string key, CancellationToken cancellationToken = default)
    {
        if (!_clientKeys.TryGetValue(key, out var found))
            _clientKeys[key] = found = await session.LoadAsync<ClientMessageKey>(key, cancellationToken);
        return found;
    }

    internal void Preloaded(IReadOnlyDictionary<Guid, Task<Membership?>> members, IReadOnlyDictionary<Guid, Task<MessageView?>> messages,
        IReadOnlyDictionary<string, Task<ClientMessageKey?>> clientKeys)
    {
        foreach (var (userId, member) in members)
            _members[userId] = member.Result;
        foreach (var (messageId, message) in messages)
            _messages[messageId] = message.Result?.ConversationId == Conversation.Id ? message.Result : null;
        foreach (var (key, found) in clientKeys)
            _clientKeys[key] = found.Result;
    }

    internal void Set(ClientMessageKey key) => _clientKeys[key.Id] = key;

    public async Task<CallView?> Call(Guid callId, CancellationToken cancellationToken = default)
    {
        if (!_calls.TryGetValue(callId, out var call))
        {
            call = await session.LoadAsync<CallView>(callId, cancellationToken);
            _calls[callId] = call = call?.ConversationId == Conversation.Id ? call : null;
        }
        return call;
    }

    /// <summary>A call's new state; stored with the write even when no event is appended (a join, a leave).</summary>
    public void Set(CallView call)
    {
        _calls[call.Id] = call;
        _changedCalls.Add(call.Id);
    }

    internal IEnumerable<CallView> ChangedCalls => _changedCalls.Select(id => _calls[id]!);

    /// <summary>A user's follow of a thread of this conversation, if they ever followed or read it.</summary>
    public async Task<ThreadFollow?> Follow(Guid userId, Guid rootId, CancellationToken cancellationToken = default)
    {
        var key = ThreadFollow.KeyOf(userId, rootId);
        if (!_follows.TryGetValue(key, out var follow))
            _follows[key] = follow = await session.LoadAsync<ThreadFollow>(key, cancellationToken);
        return follow;
    }

    /// <summary>A thread follow's new state; stored with the write even when no event is appended.</summary>
    public void Set(ThreadFollow follow)
    {
        _follows[follow.Id] = follow;
        _changedFollows.Add(follow.Id);
    }

    internal IEnumerable<ThreadFollow> ChangedFollows => _changedFollows.Select(id => _follows[id]!);

    /// <summary>An invite link (of any conversation: the caller checks), read once per write.</summary>
    public async Task<InviteLink?> InviteLink(string linkId, CancellationToken cancellationToken = default)
    {
        if (!_links.TryGetValue(linkId, out var link))
            _links[linkId] = link = await session.LoadAsync<InviteLink>(linkId, cancellationToken);
        return link;
    }

    /// <summary>An invite link's new state (its use count); stored with the write, so the next write of a batch sees it.</summary>
    public void Set(InviteLink link)
    {
        _links[link.Id] = link;
        _changedLinks.Add(link.Id);
    }

    internal IEnumerable<InviteLink> ChangedLinks => _changedLinks.Select(id => _links[id]!);

    /// <summary>A follow change Notifications is to be told of (<see cref="FollowChanges"/>): stored with the write.</summary>
    public void Tell(UntoldFollowChange change) => _untoldFollows[change.Id] = change;

    internal IEnumerable<UntoldFollowChange> UntoldFollows => _untoldFollows.Values;

    internal bool HasDocumentChanges => _changedCalls.Count > 0 || _changedFollows.Count > 0 || _changedLinks.Count > 0 || _untoldFollows.Count > 0;

    internal void Set(Membership member)
    {
        _members[member.UserId] = member;
        _changedMembers.Add(member.UserId);
    }

    internal void Set(MessageView message)
    {
        _messages[message.Id] = message;
        _changedMessages.Add(message.Id);
    }

    internal IEnumerable<Membership> ChangedMembers => _changedMembers.Select(id => _members[id]!);

    internal IEnumerable<MessageView> ChangedMessages => _changedMessages.Select(id => _messages[id]!);
}

/// <summary>
/// Rows a write will read, fetched in the same round trip as the conversation's lock: the statements run one after
/// the other, so these are read after the lock is held and see what earlier writers committed.
/// </summary>
public sealed record Preload(IReadOnlyList<Guid>? Members = null, IReadOnlyList<Guid>? Messages = null, string? ClientMessageKey = null);

/// <summary>The result of a write: the appended events with their seqs, or the error.</summary>
public sealed record WriteResult(DomainError? Error, IReadOnlyList<(long Seq, object Event)> Appended, WriteContext? Context)
{
    public long LastSeq => Appended.Count > 0 ? Appended[^1].Seq : Context?.Conversation.LastSeq ?? 0;

    /// <summary>The appended events as the bus carries them (their outbox entries' messages), once committed.</summary>
    public IReadOnlyList<ConversationEvent> Committed { get; init; } = [];
}

/// <summary>
/// The one write path of the conversation log: lock the conversation's stream, decide, append the events with
/// their seqs, update the read models, erase deleted text and record the outbox entries, all in one PostgreSQL
/// transaction; then publish the entries at once.
/// <para>
/// Writes of one conversation take turns in this process, queued in memory (not each holding a pooled connection
/// while it waits for the stream's row lock; the row lock still orders writers across processes). At most
/// <see cref="MessagingOptions.WriteTransactions"/> write transactions run at once in a process; writes that queue
/// meanwhile, of one conversation or of many, go together into the next transaction (group commit): each decides in
/// turn, seeing what the ones of its conversation before it did, and one round trip of locks and reads, one batch of
/// writes and one commit with its WAL flush serve them all. At low load every write finds a transaction free and goes
/// alone, at once; under load the transactions grow instead of queueing up, and what each write costs falls.
/// </para>
/// </summary>
public sealed class ConversationWriter(
    IDocumentStore store, OutboxDispatcher outbox, ReceiptPublisher receipts, IOptions<MessagingOptions> options, IMeterFactory meters,
    ILogger<ConversationWriter> logger)
{
    /// <summary>At most this many queued writes (of all their conversations together) go into one transaction.</summary>
    public const int MaxBatch = 64;

    /// <summary>Writes per transaction: how much group commit combines (a histogram; 1 at low load).</summary>
    public const string WritesPerTransactionMetric = "platform.messaging.writes_per_transaction";

    private sealed record Pending(Preload Preload, Func<WriteContext, Task<Decision>> Decide, CancellationToken CancellationToken)
    {
        public TaskCompletionSource<WriteResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    // A conversation's writes in one transaction, in their order.
    private sealed record Group(Guid ConversationId, List<Pending> Writes);

    private readonly Lock _gate = new();
    // Per conversation with a write in a transaction or waiting for one: the writes waiting.
    private readonly Dictionary<Guid, Queue<Pending>> _queues = [];
    // Conversations whose writes wait and none of whose is in a transaction, in the order they came to wait.
    private readonly Queue<Guid> _ready = new();
    // Write transactions running (each followed by the next batch of waiting writes, if any, before it ends).
    private int _transactions;

    private readonly Histogram<int> _writesPerTransaction = meters.Create(Telemetry.SourcePrefix + "Messaging").CreateHistogram<int>(WritesPerTransactionMetric, "{write}",
        "Writes committed together in one transaction (group commit, across conversations)");

    /// <summary>Writes waiting for a transaction: behind a write of their conversation, or for a free transaction.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
                return _queues.Values.Sum(queue => queue.Count);
        }
    }

    public Task<WriteResult> WriteAsync(Guid conversationId, Func<WriteContext, Task<Decision>> decide, CancellationToken cancellationToken) =>
        WriteAsync(conversationId, new Preload(), decide, cancellationToken);

    public Task<WriteResult> WriteAsync(Guid conversationId, Preload preload, Func<WriteContext, Task<Decision>> decide, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(preload, decide, cancellationToken);
        lock (_gate)
        {
            if (_queues.TryGetValue(conversationId, out var queue))
            {
                queue.Enqueue(pending);
                // A write given up while it waits is skipped, unless its batch has started.
                return pending.Done.Task.WaitAsync(cancellationToken);
            }
            if (_transactions >= options.Value.WriteTransactions)
            {
                _queues[conversationId] = new Queue<Pending>([pending]);
                _ready.Enqueue(conversationId);
                return pending.Done.Task.WaitAsync(cancellationToken);
            }
            _transactions++;
            _queues[conversationId] = new Queue<Pending>();
        }
        return LeadAsync(new Group(conversationId, [pending]));
    }

    // A transaction was free: this write goes at once, alone. What queued meanwhile continues in the background, so
    // this request has its answer as soon as its own write is committed.
    private async Task<WriteResult> LeadAsync(Group first)
    {
        try
        {
            await RunAsync([first]);
        }
        finally
        {
            if (Next([first]) is { } next)
                _ = Task.Run(() => DrainAsync(next));
        }
        return await first.Writes[0].Done.Task;
    }

    private async Task DrainAsync(List<Group> batch)
    {
        for (List<Group>? next = batch; next is not null; next = Next(next))
            await RunAsync(next);
    }

    // After a transaction: its conversations with writes waiting wait behind those already waiting; then the next batch
    // (null, and one transaction fewer, when nothing waits).
    private List<Group>? Next(List<Group> finished)
    {
        lock (_gate)
        {
            foreach (var group in finished)
                if (_queues[group.ConversationId].Count > 0)
                    _ready.Enqueue(group.ConversationId);
                else
                    _queues.Remove(group.ConversationId);

            var batch = new List<Group>();
            var writes = 0;
            while (writes < MaxBatch && _ready.TryDequeue(out var conversationId))
            {
                var queue = _queues[conversationId];
                var taken = new List<Pending>();
                while (writes < MaxBatch && queue.TryDequeue(out var pending))
                    if (!pending.CancellationToken.IsCancellationRequested)
                    {
                        taken.Add(pending);
                        writes++;
                    }
                if (taken.Count > 0)
                    batch.Add(new Group(conversationId, taken));
                else
                    _queues.Remove(conversationId);
            }
            if (batch.Count > 0)
                return batch;
            _transactions--;
            return null;
        }
    }

    private async Task RunAsync(List<Group> batch)
    {
        try
        {
            var results = await ExecuteAsync(batch);
            foreach (var group in batch)
                foreach (var pending in group.Writes)
                    pending.Done.TrySetResult(results[pending]);
        }
        catch (Exception exception) when (batch.Count > 1)
        {
            // Nothing of the batch was committed. Each conversation's writes run again on their own, so one failing
            // write does not fail the writes of other conversations.
            logger.LogWarning(exception, "A batch of writes of {Count} conversations failed; running each conversation's on its own", batch.Count);
            foreach (var group in batch)
                await RunAsync([group]);
        }
        catch (Exception exception) when (batch[0].Writes.Count > 1)
        {
            // Each write runs again on its own, so each gets the outcome it would have had alone.
            logger.LogWarning(exception, "A batch of {Count} writes of conversation {ConversationId} failed; running them one by one",
                batch[0].Writes.Count, batch[0].ConversationId);
            foreach (var pending in batch[0].Writes)
                await RunAsync([new Group(batch[0].ConversationId, [pending])]);
        }
        catch (Exception exception)
        {
            batch[0].Writes[0].Done.TrySetException(exception);
        }
    }

    // What one conversation's part of a batch reads with the locks.
    private sealed record Reads(
        Group Group, Task<IReadOnlyList<ConversationView>> Locked, Dictionary<Guid, Task<Membership?>> Members, Dictionary<Guid, Task<MessageView?>> Messages,
        Dictionary<string, Task<ClientMessageKey?>> ClientKeys, Task<IReadOnlyList<string>> Pending);

    private async Task<Dictionary<Pending, WriteResult>> ExecuteAsync(List<Group> batch)
    {
        // A write alone may be given up (its request aborted) until it commits; a batch serves several requests.
        var cancellationToken = batch is [{ Writes: [var alone] }] ? alone.CancellationToken : CancellationToken.None;
        var results = new Dictionary<Pending, WriteResult>(ReferenceEqualityComparer.Instance);
        var committed = new List<(Group Group, List<OutboxItem> Entries, Task<IReadOnlyList<string>> Pending)>();
        var writes = 0;
        await using (var session = store.LightweightSession())
        {
            await session.BeginTransactionAsync(cancellationToken);
            // One round trip: lock each conversation's stream row (writers of a conversation, in any process, take turns
            // until commit, so seqs are gap-free) and read the conversation, whose LastSeq is kept equal to the stream's
            // version. Both rows are locked so that, after waiting, the newest version of each is read. Conversations are
            // locked in one order (by id) in every process, so two batches never wait for each other in a circle. The
            // rows the writes will look at come in the same batch, each statement after its conversation's lock (read
            // committed: each sees what was committed before it started).
            var schema = store.Options.Events.DatabaseSchemaName;
            var query = session.CreateBatchQuery();
            var reads = batch.OrderBy(group => group.ConversationId).Select(group =>
            {
                var conversationId = group.ConversationId;
                var locked = query.Query<ConversationView>(
                    $"select c.data from {schema}.mt_doc_conversation c join {schema}.mt_streams s on s.id = c.id where s.id = ? for update of s, c",
                    conversationId);
                var members = group.Writes.SelectMany(p => p.Preload.Members ?? []).Distinct()
                    .ToDictionary(id => id, id => query.Load<Membership>(Membership.KeyOf(conversationId, id)));
                var messages = group.Writes.SelectMany(p => p.Preload.Messages ?? []).Distinct().ToDictionary(id => id, id => query.Load<MessageView>(id));
                var clientKeys = group.Writes.Select(p => p.Preload.ClientMessageKey).OfType<string>().Distinct()
                    .ToDictionary(key => key, key => query.Load<ClientMessageKey>(key));
                // The conversation's highest outbox entry still pending (0: none; the unique (conversation_id, seq) index,
                // read backwards): if this process handed it over, the entries of this write are published from memory.
                var pending = query.Query<string>(
                    $"select coalesce(max(seq), 0)::text from {schema}.mt_doc_outbox where conversation_id = ?", conversationId);
                return new Reads(group, locked, members, messages, clientKeys, pending);
            }).ToList();
            await query.Execute(cancellationToken);

            foreach (var read in reads)
            {
                var conversationId = read.Group.ConversationId;
                var conversation = (await read.Locked).SingleOrDefault();
                if (conversation is null)
                {
                    foreach (var pending in read.Group.Writes)
                        results[pending] = new WriteResult(DomainError.ConversationNotFound, [], null);
                    continue;
                }

                var context = new WriteContext(session, conversation);
                context.Preloaded(read.Members, read.Messages, read.ClientKeys);
                var appended = new List<(long Seq, object Event)>();
                foreach (var pending in read.Group.Writes)
                {
                    var decision = await pending.Decide(context);
                    if (decision.Error is not null || decision.Events.Count == 0)
                    {
                        results[pending] = new WriteResult(decision.Error, [], context);
                        continue;
                    }
                    // Applied at once, so the next write of the conversation decides on the state this one left.
                    var mine = new List<(long Seq, object Event)>();
                    foreach (var @event in decision.Events)
                    {
                        var seq = context.Conversation.LastSeq + 1;
                        context.Conversation = context.Conversation.Apply(seq, @event);
                        await ApplyToDocuments(session, context, seq, @event, cancellationToken);
                        mine.Add((seq, @event));
                    }
                    appended.AddRange(mine);
                    results[pending] = new WriteResult(null, mine, context);
                }
                if (appended.Count == 0 && !context.HasDocumentChanges)
                    continue;

                if (appended.Count > 0)
                {
                    session.Events.Append(conversationId, context.Conversation.LastSeq, appended.Select(a => a.Event).ToArray());
                    session.Store(context.Conversation);
                }
                committed.Add((read.Group, StoreChanges(session, context, appended), read.Pending));
                writes += read.Group.Writes.Count;
            }
            if (committed.Count == 0)
                return results;
            await session.SaveChangesAsync(cancellationToken);
        }
        _writesPerTransaction.Record(writes);
        var accepted = new List<(WriteContext Context, Guid UserId)>();
        foreach (var (group, entries, pending) in committed)
        {
            outbox.Committed(entries, long.Parse((await pending).Single(), CultureInfo.InvariantCulture));
            // Each write's own events, as published: the send's answer carries them to the Gateway that forwarded it.
            var bySeq = entries.ToDictionary(entry => entry.Order, entry => (ConversationEvent)entry.Message);
            foreach (var write in group.Writes)
                if (results[write] is { Appended.Count: > 0 } result)
                {
                    results[write] = result with { Committed = result.Appended.Select(a => bySeq[a.Seq]).ToList() };
                    accepted.AddRange(result.Appended.Select(a => a.Event).OfType<RequestAccepted>().Select(e => (result.Context!, e.UserId)));
                }
        }
        foreach (var (context, userId) in accepted)
            await TellAcceptedAsync(context, userId);
        return results;
    }

    /// <summary>
    /// Until a message request is accepted, the recipient's receipts go to their own devices only; once accepted, the
    /// conversation's members learn where the recipient's cursors stand (a later receipt is told only to the senders of
    /// what it newly covers, so what was read before the acceptance would otherwise stay unknown to them).
    /// </summary>
    private async Task TellAcceptedAsync(WriteContext context, Guid userId)
    {
        try
        {
            // The write loaded the member (its decision looked at it), so this is the committed state, from memory.
            if (await context.Member(userId) is not { } member)
                return;
            await using var query = store.QuerySession();
            var privacy = await query.LoadAsync<UserPrivacy>(userId);
            receipts.Changed(context.Conversation.Id, userId, member.DeliveredSeq, privacy is { ReadReceipts: false } ? null : member.ReadSeq, ownDevicesOnly: false);
        }
        catch (Exception exception)
        {
            // The write has committed: its outcome stands. The member's next receipt tells the cursors again.
            logger.LogWarning(exception, "Telling the accepted request's receipts of {UserId} in {ConversationId} failed", userId, context.Conversation.Id);
        }
    }

    public async Task<WriteResult> StartAsync(ConversationCreated created, IReadOnlyList<object> more, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var events = new List<object> { created };
        events.AddRange(more);
        session.Events.StartStream(created.ConversationId, events.ToArray());

        var context = new WriteContext(session, ConversationView.Create(created));
        foreach (var member in created.Members)
            context.Set(Membership.Joined(created.ConversationId, member.UserId, member.Role, 1, created.CreatedAt) with { Requested = member.Requested });
        var appended = events.Select((e, i) => ((long)i + 1, e)).ToList();
        // A new stream: nothing of it can be pending.
        outbox.Committed(await ProjectAndCommit(session, context, appended, cancellationToken, skipFirst: true), pendingThrough: 0);
        return new WriteResult(null, appended, context);
    }

    private static async Task<List<OutboxItem>> ProjectAndCommit(
        IDocumentSession session, WriteContext context, IReadOnlyList<(long Seq, object Event)> appended, CancellationToken cancellationToken, bool skipFirst = false)
    {
        var conversationId = context.Conversation.Id;
        foreach (var (seq, @event) in appended.Skip(skipFirst ? 1 : 0))
        {
            context.Conversation = context.Conversation.Apply(seq, @event);
            await ApplyToDocuments(session, context, seq, @event, cancellationToken);
        }
        if (skipFirst)
            context.Conversation = context.Conversation with { LastSeq = appended[^1].Seq };

        session.Store(context.Conversation);
        var entries = StoreChanges(session, context, appended);
        await session.SaveChangesAsync(cancellationToken);
        return entries;
    }

    // What the events changed, and their outbox entries (returned, to be published once committed); documents merely
    // read are not written back.
    private static List<OutboxItem> StoreChanges(IDocumentSession session, WriteContext context, IReadOnlyList<(long Seq, object Event)> appended)
    {
        foreach (var member in context.ChangedMembers)
            session.Store(member);
        foreach (var message in context.ChangedMessages)
            session.Store(message);
        foreach (var call in context.ChangedCalls)
            session.Store(call);
        foreach (var follow in context.ChangedFollows)
            session.Store(follow);
        foreach (var link in context.ChangedLinks)
            session.Store(link);
        foreach (var change in context.UntoldFollows)
            session.Store(change);
        var entries = new List<OutboxItem>(appended.Count);
        foreach (var (seq, @event) in appended)
        {
            var entry = OutboxEntry.For(context.Conversation.Id, seq, @event, context);
            session.Store(entry);
            entries.Add(MessagingOutboxStore.Item(entry));
        }
        return entries;
    }

    private static async Task ApplyToDocuments(IDocumentSession session, WriteContext context, long seq, object @event, CancellationToken cancellationToken)
    {
        var conversationId = context.Conversation.Id;
        switch (@event)
        {
            case MemberJoined joined:
                context.Set(Membership.Joined(conversationId, joined.UserId, joined.Role, seq, joined.JoinedAt));
                break;
            case MemberLeft left when await context.Member(left.UserId, cancellationToken) is { } member:
                context.Set(member with { Active = false, LeftSeq = seq });
                break;
            case RequestAccepted accepted when await context.Member(accepted.UserId, cancellationToken) is { } member:
                context.Set(member with { Requested = false });
                break;
            case MemberRoleChanged changed when await context.Member(changed.UserId, cancellationToken) is { } member:
                context.Set(member with { Role = changed.Role });
                break;
            case MemberBanned banned:
                session.Store(new ConversationBan
                {
                    Id = ConversationBan.KeyOf(conversationId, banned.UserId), ConversationId = conversationId, UserId = banned.UserId,
                    Reason = banned.Reason, Until = banned.Until, BannedBy = banned.BannedBy, BannedAt = banned.BannedAt,
                });
                break;
            case MessageReported reported:
                session.Store(new MessageReport
                {
                    Id = reported.ReportId, ConversationId = conversationId, MessageId = reported.MessageId,
                    MessageSeq = (await context.Message(reported.MessageId, cancellationToken))?.Seq ?? 0,
                    ReportedBy = reported.ReportedBy, Reason = reported.Reason, ReportedAt = reported.ReportedAt, Seq = seq,
                });
                break;
            case MemberUnbanned unbanned:
                session.Delete<ConversationBan>(ConversationBan.KeyOf(conversationId, unbanned.UserId));
                break;
            case MemberTimedOut timedOut when await context.Member(timedOut.UserId, cancellationToken) is { } member:
                context.Set(member with { TimedOutUntil = timedOut.Until });
                break;
            case MessagePosted posted:
                context.Set(MessageView.Create(conversationId, seq, posted));
                var key = new ClientMessageKey
                {
                    Id = ClientMessageKey.KeyOf(conversationId, posted.SenderId, posted.ClientMessageId),
                    MessageId = posted.MessageId,
                };
                session.Store(key);
                // A retry in the same batch finds it.
                context.Set(key);
                foreach (var mediaId in posted.Attachments.Distinct())
                    session.Store(new AttachmentUse
                    {
                        Id = AttachmentUse.KeyOf(mediaId, posted.MessageId), MediaId = mediaId, ConversationId = conversationId, MessageId = posted.MessageId,
                    });
                if (posted.ReplyTo is { } root && await context.Message(root, cancellationToken) is { } rootMessage)
                {
                    context.Set(rootMessage.Apply(seq, posted));
                    await Threads.FollowOnReplyAsync(context, rootMessage, posted, seq, cancellationToken);
                }
                // Senders have read what they wrote.
                if (await context.Member(posted.SenderId, cancellationToken) is { } sender)
                    context.Set(sender with { DeliveredSeq = seq, ReadSeq = seq, LastPostedAt = posted.PostedAt });
                break;
            // The decision set the call's new state; the seqs are known only here.
            case CallStarted started when await context.Call(started.CallId, cancellationToken) is { } call:
                context.Set(call with { StartedSeq = seq });
                break;
            case CallEnded ended when await context.Call(ended.CallId, cancellationToken) is { } call:
                context.Set(call.Apply(seq, ended));
                break;
            case IChangesMessage changes:
                var messageId = changes.MessageId;
                if (await context.Message(messageId, cancellationToken) is not { } message)
                    break;
                if (@event is MessageDeleted)
                {
                    EraseText(session, conversationId, message.TextSeqs, message.PreviewSeqs, message.AttachmentSeqs);
                    await EraseUnpublishedAsync(session, conversationId, message.TextSeqs, message.PreviewSeqs, message.AttachmentSeqs, cancellationToken);
                }
                context.Set(message.Apply(seq, @event));
                break;
        }
    }

    // Erasure of the stored event data, in the same transaction as the tombstone: the text, mentions and
    // URLs of the posted event and of every edit are blanked in place; seq and event ids stay.
    private static void EraseText(IDocumentSession session, Guid conversationId, IReadOnlyList<long> seqs, IReadOnlyList<long> previewSeqs, IReadOnlyList<long> attachmentSeqs)
    {
        var schema = session.DocumentStore.Options.Events.DatabaseSchemaName;
        foreach (var seq in seqs)
            session.QueueSqlCommand(
                $"update {schema}.mt_events set data = data || '{{\"text\":\"\",\"mentions\":[],\"urls\":[]}}'::jsonb where stream_id = ? and version = ?",
                conversationId, seq);
        // A link preview repeats the message's URL and what the page said about it.
        foreach (var seq in previewSeqs)
            session.QueueSqlCommand(
                $"update {schema}.mt_events set data = data || '{{\"url\":\"\",\"title\":null,\"description\":null,\"imageUrl\":null,\"siteName\":null}}'::jsonb where stream_id = ? and version = ?",
                conversationId, seq);
        // Attachment details hold a blurhash: a small picture of the file.
        foreach (var seq in attachmentSeqs)
            session.QueueSqlCommand(
                $"update {schema}.mt_events set data = data || '{{\"attachments\":[]}}'::jsonb where stream_id = ? and version = ?",
                conversationId, seq);
    }

    // The same erasure in outbox entries not yet published (the broker was away since): otherwise the text a member
    // deleted would still go out to every consumer (push notifications, other services) once the broker is back.
    private static async Task EraseUnpublishedAsync(
        IDocumentSession session, Guid conversationId, IReadOnlyList<long> textSeqs, IReadOnlyList<long> previewSeqs, IReadOnlyList<long> attachmentSeqs,
        CancellationToken cancellationToken)
    {
        var seqs = textSeqs.Concat(previewSeqs).Concat(attachmentSeqs).ToArray();
        if (seqs.Length == 0)
            return;
        var waiting = await session.Query<OutboxEntry>()
            .Where(entry => entry.ConversationId == conversationId && entry.Seq.In(seqs))
            .ToListAsync(cancellationToken);
        foreach (var entry in waiting)
        {
            if (entry.Message.Data.ValueKind != JsonValueKind.Object || JsonNode.Parse(entry.Message.Data.GetRawText()) is not JsonObject data)
                continue;
            var erased = previewSeqs.Contains(entry.Seq)
                ? new Dictionary<string, JsonNode?> { ["url"] = "", ["title"] = null, ["description"] = null, ["imageUrl"] = null, ["siteName"] = null }
                : attachmentSeqs.Contains(entry.Seq)
                    ? new Dictionary<string, JsonNode?> { ["attachments"] = new JsonArray() }
                    : new Dictionary<string, JsonNode?> { ["text"] = "", ["mentions"] = new JsonArray(), ["urls"] = new JsonArray() };
            foreach (var (name, value) in erased)
                if (data.ContainsKey(name))
                    data[name] = value;
            session.Store(entry with { Message = entry.Message with { Data = JsonSerializer.SerializeToElement(data) } });
        }
    }

}
