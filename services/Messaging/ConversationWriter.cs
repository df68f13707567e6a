using Marten;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.Messaging.Outbox;

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
        (string Key, Task<ClientMessageKey?> Found)? clientKey)
    {
        foreach (var (userId, member) in members)
            _members[userId] = member.Result;
        foreach (var (messageId, message) in messages)
            _messages[messageId] = message.Result?.ConversationId == Conversation.Id ? message.Result : null;
        if (clientKey is var (key, found))
            _clientKeys[key] = found.Result;
    }

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

    internal bool HasDocumentChanges => _changedCalls.Count > 0;

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
}

/// <summary>
/// The one write path of the conversation log: lock the conversation's stream, decide, append the events with
/// their seqs, update the read models, erase deleted text and record the outbox entries, all in one PostgreSQL
/// transaction; then publish the entries at once.
/// </summary>
public sealed class ConversationWriter(IDocumentStore store, ConversationGate gate, OutboxPublisher publisher, IOptions<OutboxOptions> outbox)
{
    public Task<WriteResult> WriteAsync(Guid conversationId, Func<WriteContext, Task<Decision>> decide, CancellationToken cancellationToken) =>
        WriteAsync(conversationId, new Preload(), decide, cancellationToken);

    public async Task<WriteResult> WriteAsync(Guid conversationId, Preload preload, Func<WriteContext, Task<Decision>> decide, CancellationToken cancellationToken)
    {
        WriteResult result;
        using (await gate.EnterAsync(conversationId, cancellationToken))
        await using (var session = store.LightweightSession())
        {
            await session.BeginTransactionAsync(cancellationToken);
            // One round trip: lock the stream's row (writers of this conversation, in any process, take turns until
            // commit, so seqs are gap-free) and read the conversation, whose LastSeq is kept equal to the stream's
            // version. Both rows are locked so that, after waiting, the newest version of each is read. The rows the
            // write will look at come in the same batch, each statement after the lock (read committed: each sees
            // what was committed before it started).
            var schema = store.Options.Events.DatabaseSchemaName;
            var batch = session.CreateBatchQuery();
            var locked = batch.Query<ConversationView>(
                $"select c.data from {schema}.mt_doc_conversation c join {schema}.mt_streams s on s.id = c.id where s.id = ? for update of s, c",
                conversationId);
            var members = (preload.Members ?? []).Distinct().ToDictionary(id => id, id => batch.Load<Membership>(Membership.KeyOf(conversationId, id)));
            var messages = (preload.Messages ?? []).Distinct().ToDictionary(id => id, id => batch.Load<MessageView>(id));
            var clientKey = preload.ClientMessageKey is { } key ? (key, batch.Load<ClientMessageKey>(key)) : ((string, Task<ClientMessageKey?>)?)null;
            await batch.Execute(cancellationToken);
            var conversation = (await locked).SingleOrDefault();
            if (conversation is null)
                return new WriteResult(DomainError.ConversationNotFound, [], null);

            var context = new WriteContext(session, conversation);
            context.Preloaded(members, messages, clientKey);
            var decision = await decide(context);
            if (decision.Error is not null || (decision.Events.Count == 0 && !context.HasDocumentChanges))
                return new WriteResult(decision.Error, [], context);
            if (decision.Events.Count == 0)
            {
                foreach (var call in context.ChangedCalls)
                    session.Store(call);
                await session.SaveChangesAsync(cancellationToken);
                return new WriteResult(null, [], context);
            }

            var firstSeq = conversation.LastSeq + 1;
            session.Events.Append(conversationId, conversation.LastSeq + decision.Events.Count, decision.Events.ToArray());
            result = new WriteResult(null, decision.Events.Select((e, i) => (firstSeq + i, e)).ToList(), context);
            await ProjectAndCommit(session, context, result.Appended, cancellationToken);
        }
        Publish(conversationId);
        return result;
    }

    public async Task<WriteResult> StartAsync(ConversationCreated created, IReadOnlyList<object> more, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var events = new List<object> { created };
        events.AddRange(more);
        session.Events.StartStream(created.ConversationId, events.ToArray());

        var context = new WriteContext(session, ConversationView.Create(created));
        foreach (var member in created.Members)
            context.Set(Membership.Joined(created.ConversationId, member.UserId, member.Role, 1, created.CreatedAt));
        var appended = events.Select((e, i) => ((long)i + 1, e)).ToList();
        await ProjectAndCommit(session, context, appended, cancellationToken, skipFirst: true);
        Publish(created.ConversationId);
        return new WriteResult(null, appended, context);
    }

    private async Task ProjectAndCommit(
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
        foreach (var member in context.ChangedMembers)
            session.Store(member);
        foreach (var message in context.ChangedMessages)
            session.Store(message);
        foreach (var call in context.ChangedCalls)
            session.Store(call);
        foreach (var (seq, @event) in appended)
            session.Store(OutboxEntry.For(conversationId, seq, @event, context));

        await session.SaveChangesAsync(cancellationToken);
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
            case MemberRoleChanged changed when await context.Member(changed.UserId, cancellationToken) is { } member:
                context.Set(member with { Role = changed.Role });
                break;
            case MessagePosted posted:
                context.Set(MessageView.Create(conversationId, seq, posted));
                session.Store(new ClientMessageKey
                {
                    Id = ClientMessageKey.KeyOf(conversationId, posted.SenderId, posted.ClientMessageId),
                    MessageId = posted.MessageId,
                });
                if (posted.ReplyTo is { } root && await context.Message(root, cancellationToken) is { } rootMessage)
                    context.Set(rootMessage.Apply(seq, posted));
                // Senders have read what they wrote.
                if (await context.Member(posted.SenderId, cancellationToken) is { } sender)
                    context.Set(sender with { DeliveredSeq = seq, ReadSeq = seq });
                break;
            // The decision set the call's new state; the seqs are known only here.
            case CallStarted started when await context.Call(started.CallId, cancellationToken) is { } call:
                context.Set(call with { StartedSeq = seq });
                break;
            case CallEnded ended when await context.Call(ended.CallId, cancellationToken) is { } call:
                context.Set(call.Apply(seq, ended));
                break;
            case MessageEdited or MessageDeleted or ReactionAdded or ReactionRemoved or LinkPreviewAttached:
                var messageId = @event switch
                {
                    MessageEdited e => e.MessageId,
                    MessageDeleted e => e.MessageId,
                    ReactionAdded e => e.MessageId,
                    LinkPreviewAttached e => e.MessageId,
                    _ => ((ReactionRemoved)@event).MessageId,
                };
                if (await context.Message(messageId, cancellationToken) is not { } message)
                    break;
                if (@event is MessageDeleted)
                    EraseText(session, conversationId, message.TextSeqs, message.PreviewSeqs);
                context.Set(message.Apply(seq, @event));
                break;
        }
    }

    // Erasure of the stored event data, in the same transaction as the tombstone: the text, mentions and
    // URLs of the posted event and of every edit are blanked in place; seq and event ids stay.
    private static void EraseText(IDocumentSession session, Guid conversationId, IReadOnlyList<long> seqs, IReadOnlyList<long> previewSeqs)
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
    }

    private void Publish(Guid conversationId)
    {
        if (outbox.Value.CrashAfterCommit)
            Environment.FailFast("Outbox:CrashAfterCommit is set: simulating a crash between commit and publish.");
        if (publisher.BrokerAvailable)
            publisher.Schedule(conversationId);
    }
}
