using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;

namespace Platform.Gateway.Realtime;

/// <summary>
/// The connections of this Gateway instance, indexed by user and by conversation, and the one place that decides
/// what each connection receives: every conversation event exactly once and in seq order. Events that arrive with a
/// gap, or while a replay runs, are held and the gap is filled from Messaging's log.
/// </summary>
public sealed class ConnectionRegistry(
    IServiceScopeFactory scopes, IOptions<RealtimeOptions> options, RealtimeMetrics metrics, TimeProvider time, ILogger<ConnectionRegistry> logger)
{
    public const string EventMethod = "event";
    public const string TypingMethod = "typing";
    public const string ReceiptMethod = "receipt";
    public const string PresenceMethod = "presence";
    public const string SignalMethod = "signal";
    public const string NotificationMethod = "notification";
    public const string EphemeralMethod = "ephemeral";

    private readonly ConcurrentDictionary<string, RealtimeConnection> _connections = new();
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _byUser = new();
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _byConversation = new();
    // Per watched user: the connections watching them, and the newest presence version passed on (older ones are dropped).
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _watchers = new();
    private readonly ConcurrentDictionary<Guid, long> _presenceVersions = new();
    private readonly SemaphoreSlim _replaySlots = new(options.Value.MaxConcurrentReplays);
    // Reads of the log that replays of one conversation from one seq may share (see ReadLogAsync).
    private readonly Dictionary<(Guid ConversationId, long After), SharedLogRead> _sharedReads = [];
    // Connections being set up: they see every conversation event delivered meanwhile (see BeginSetup).
    private readonly ConcurrentDictionary<string, RealtimeConnection> _settingUp = new();

    public int Count => _connections.Count;

    public RealtimeConnection Add(HubConnectionContext context)
    {
        var connection = new RealtimeConnection(context, options.Value.SendQueueLimit) { OpenedAt = time.GetUtcNow() };
        _connections[connection.Id] = connection;
        metrics.ConnectionOpened();
        return connection;
    }

    public RealtimeConnection? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    /// <summary>Records whose connection this is; false when the user already has as many as allowed.</summary>
    public bool TryAssignUser(RealtimeConnection connection, Guid userId)
    {
        var connections = _byUser.GetOrAdd(userId, _ => new());
        lock (connections)
        {
            if (connections.Count >= options.Value.MaxConnectionsPerUser)
                return false;
            connection.UserId = userId;
            connections[connection.Id] = connection;
            return true;
        }
    }

    /// <summary>Forgets a connection that ended; returns it, or null when it was not (or no longer) known.</summary>
    public RealtimeConnection? Remove(string connectionId)
    {
        if (!_connections.TryRemove(connectionId, out var connection))
            return null;
        connection.Close();
        Watch(connection, []);
        metrics.ConnectionClosed();
        if (_byUser.TryGetValue(connection.UserId, out var mine))
            lock (mine)
                mine.TryRemove(connectionId, out _);
        lock (connection)
        {
            foreach (var conversationId in connection.Cursors.Keys)
                if (_byConversation.TryGetValue(conversationId, out var members))
                    members.TryRemove(connectionId, out _);
            connection.Cursors.Clear();
        }
        return connection;
    }

    /// <summary>Replaces the users whose presence changes the connection receives.</summary>
    public void Watch(RealtimeConnection connection, IReadOnlyCollection<Guid> userIds)
    {
        lock (connection.Watching)
        {
            foreach (var userId in connection.Watching)
                if (_watchers.TryGetValue(userId, out var watchers))
                    lock (watchers)
                    {
                        watchers.TryRemove(connection.Id, out _);
                        if (watchers.IsEmpty && _watchers.TryRemove(new KeyValuePair<Guid, ConcurrentDictionary<string, RealtimeConnection>>(userId, watchers)))
                            _presenceVersions.TryRemove(userId, out _);
                    }
            connection.Watching.Clear();
            if (connection.Closed)
                return;
            foreach (var userId in userIds)
            {
                connection.Watching.Add(userId);
                while (true)
                {
                    var watchers = _watchers.GetOrAdd(userId, _ => new());
                    lock (watchers)
                    {
                        // Emptied and dropped meanwhile: take the one now in the index.
                        if (!_watchers.TryGetValue(userId, out var current) || !ReferenceEquals(current, watchers))
                            continue;
                        watchers[connection.Id] = connection;
                        break;
                    }
                }
            }
        }
    }

    /// <summary>The connections on this instance that watch any of <paramref name="userIds"/>, each with the ones it watches.</summary>
    public IReadOnlyList<(RealtimeConnection Connection, IReadOnlyList<Guid> Watched)> WatchersOf(IReadOnlyCollection<Guid> userIds)
    {
        var found = new Dictionary<string, (RealtimeConnection Connection, List<Guid> Watched)>();
        foreach (var userId in userIds.Distinct())
            if (_watchers.TryGetValue(userId, out var watchers))
                foreach (var connection in watchers.Values)
                {
                    if (!found.TryGetValue(connection.Id, out var entry))
                        found[connection.Id] = entry = (connection, []);
                    entry.Watched.Add(userId);
                }
        return found.Values.Select(entry => (entry.Connection, (IReadOnlyList<Guid>)entry.Watched)).ToList();
    }

    /// <summary>
    /// Stops passing on the presence of <paramref name="userIds"/> to the connection and returns them; each comes back
    /// with <see cref="RestoreWatching"/> if the connection may still see it.
    /// </summary>
    public void StopWatching(RealtimeConnection connection, IReadOnlyCollection<Guid> userIds)
    {
        List<Guid> keep;
        lock (connection.Watching)
            keep = connection.Watching.Where(userId => !userIds.Contains(userId)).ToList();
        Watch(connection, keep);
    }

    /// <summary>Passes on the presence of <paramref name="userIds"/> to the connection again, besides what it watches now.</summary>
    public void RestoreWatching(RealtimeConnection connection, IReadOnlyCollection<Guid> userIds)
    {
        List<Guid> all;
        lock (connection.Watching)
            all = connection.Watching.Union(userIds).ToList();
        Watch(connection, all);
    }

    /// <summary>To one connection; not ordered, not stored.</summary>
    public void SendTo(RealtimeConnection connection, string method, object payload) =>
        Send(connection, new SerializedHubMessage(new InvocationMessage(method, [payload])));

    /// <summary>To every connection of the user on this instance; not ordered, not stored.</summary>
    public void SendToUser(Guid userId, string method, object payload)
    {
        if (!_byUser.TryGetValue(userId, out var connections) || connections.IsEmpty)
            return;
        var message = new SerializedHubMessage(new InvocationMessage(method, [payload]));
        foreach (var connection in connections.Values)
            Send(connection, message);
    }

    /// <summary>A user's presence changed: to the connections watching them, unless a newer change was passed on already.</summary>
    public void DeliverPresence(Guid userId, long version, object payload)
    {
        if (!_watchers.TryGetValue(userId, out var watchers))
            return;
        lock (watchers)
        {
            if (_presenceVersions.TryGetValue(userId, out var newest) && newest >= version)
                return;
            _presenceVersions[userId] = version;
        }
        var message = new SerializedHubMessage(new InvocationMessage(PresenceMethod, [payload]));
        foreach (var connection in watchers.Values)
            Send(connection, message);
    }

    /// <summary>
    /// For each conversation the connection receives, the seq after which every event reaches it: what the client
    /// did not get before it can read from the log up to there, and needs nothing else to be complete.
    /// </summary>
    public IReadOnlyList<(Guid ConversationId, long Seq)> Positions(RealtimeConnection connection)
    {
        lock (connection)
            return connection.Cursors.Where(entry => entry.Value.EndSeq is null).Select(entry => (entry.Key, entry.Value.StartSeq)).ToList();
    }

    public bool IsSubscribed(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
            return connection.Cursors.ContainsKey(conversationId);
    }

    /// <summary>Starts sending the conversation's events after <paramref name="lastSeq"/> (unless already subscribed).</summary>
    public void Subscribe(RealtimeConnection connection, Guid conversationId, long lastSeq)
    {
        lock (connection)
        {
            if (connection.Cursors.TryGetValue(conversationId, out var existing))
            {
                // Back before their leaving was even sent: they stay.
                existing.EndSeq = null;
                return;
            }
            if (connection.Closed)
                return;
            if (time.GetUtcNow() - connection.OpenedAt >= options.Value.ResumeGrace)
            {
                connection.Cursors[conversationId] = new Cursor(lastSeq);
                _byConversation.GetOrAdd(conversationId, _ => new())[connection.Id] = connection;
                return;
            }
        }
        // A connection that just opened may be about to resume this conversation: hold its live events as for the others.
        SubscribeAwaitingResume(connection, [(conversationId, lastSeq)]);
    }

    /// <summary>
    /// Call before asking Messaging which conversations the user is in (and their last seqs): from here until
    /// <see cref="EndSetup"/>, every conversation event this instance delivers is kept for the connection. An event
    /// committed after Messaging's answer was read is delivered after this call, so it is either live or kept: the
    /// subscriptions need no read of the log to be complete from the positions that answer gave.
    /// </summary>
    public void BeginSetup(RealtimeConnection connection)
    {
        lock (connection)
            connection.Pending = [];
        _settingUp[connection.Id] = connection;
    }

    /// <summary>Hands the events kept since <see cref="BeginSetup"/> to the connection's subscriptions, and stops keeping them.</summary>
    public void EndSetup(RealtimeConnection connection)
    {
        _settingUp.TryRemove(connection.Id, out _);
        List<(Guid ConversationId, long Seq, SerializedHubMessage Message, DateTimeOffset? CommittedAt)> pending;
        lock (connection)
        {
            pending = connection.Pending ?? [];
            connection.Pending = null;
            if (connection.PendingOverflowed)
                foreach (var cursor in connection.Cursors.Values)
                    cursor.ReadLogOnRelease |= cursor.AwaitingResume;
        }
        foreach (var (conversationId, seq, message, committedAt) in pending)
            Offer(connection, conversationId, seq, message, committedAt);
    }

    /// <summary>
    /// The subscriptions a connection starts with: live events are held until the client resumes the conversation,
    /// or until <see cref="RealtimeOptions.ResumeGrace"/> has passed, whichever comes first.
    /// </summary>
    public void SubscribeAwaitingResume(RealtimeConnection connection, IEnumerable<(Guid ConversationId, long LastSeq)> conversations)
    {
        var waiting = new List<Guid>();
        lock (connection)
        {
            foreach (var (conversationId, lastSeq) in conversations)
            {
                if (connection.Closed)
                    continue;
                if (connection.Cursors.TryGetValue(conversationId, out var existing))
                {
                    // Subscribed meanwhile by a late conversation.created or member.joined (seq - 1): nothing was sent yet,
                    // and Messaging's answer is the later position, from which everything is kept or live. Starting there
                    // gives the client the conversation as it was when it connected, not events from before then.
                    if (existing is { AwaitingResume: true, ReadLogOnRelease: false } && lastSeq > existing.StartSeq && existing.LastSentSeq == existing.StartSeq)
                        existing.StartSeq = existing.LastSentSeq = lastSeq;
                    continue;
                }
                connection.Cursors[conversationId] = new Cursor(lastSeq) { Replaying = true, AwaitingResume = true };
                _byConversation.GetOrAdd(conversationId, _ => new())[connection.Id] = connection;
                waiting.Add(conversationId);
            }
        }
        if (waiting.Count == 0)
            return;
        _ = Task.Delay(options.Value.ResumeGrace, time, connection.Context.ConnectionAborted).ContinueWith(_ =>
        {
            foreach (var conversationId in waiting)
            {
                long holeAfter;
                lock (connection)
                {
                    if (!connection.Cursors.TryGetValue(conversationId, out var cursor) || !cursor.AwaitingResume)
                        continue;
                    cursor.AwaitingResume = false;
                    // What happened since the subscription's position was delivered live or kept during the setup: it
                    // is all held, so no read of the log, unless something is missing in between.
                    if (!cursor.ReadLogOnRelease && DrainHeld(connection, conversationId, cursor) != Drained.Hole)
                        continue;
                    cursor.ReadLogOnRelease = false;
                    holeAfter = cursor.LastSentSeq;
                }
                _ = ReplayAsync(connection, conversationId, holeAfter, connection.Context.ConnectionAborted);
            }
        }, TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    public void Unsubscribe(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
        {
            connection.Cursors.Remove(conversationId);
            if (_byConversation.TryGetValue(conversationId, out var members))
                members.TryRemove(connection.Id, out _);
        }
    }

    /// <summary>A committed conversation event from the bus, for every local connection of the conversation's members.</summary>
    public void Deliver(ConversationEvent e)
    {
        // Whoever joins receives the event of their joining and what follows; whoever leaves, their leaving and nothing after.
        if (e.TryRead<ConversationCreatedData>(out var created))
            foreach (var member in created.Members)
                SubscribeUser(member.UserId, e.ConversationId, e.Seq - 1);
        else if (e.TryRead<MemberJoinedData>(out var joined))
            SubscribeUser(joined.UserId, e.ConversationId, e.Seq - 1);

        SerializedHubMessage? message = null;
        if (!_settingUp.IsEmpty)
        {
            message = new SerializedHubMessage(new InvocationMessage(EventMethod, [HubEnvelopes.From(e)]));
            foreach (var connection in _settingUp.Values)
                lock (connection)
                    if (connection.Pending is { } pending)
                    {
                        // Bounded: a setup that takes long under heavy traffic falls back to reading the log.
                        if (pending.Count < options.Value.SendQueueLimit)
                            pending.Add((e.ConversationId, e.Seq, message, e.CommittedAt));
                        else
                        {
                            connection.Pending = null;
                            connection.PendingOverflowed = true;
                        }
                    }
        }
        if (_byConversation.TryGetValue(e.ConversationId, out var connections) && !connections.IsEmpty)
        {
            message ??= new SerializedHubMessage(new InvocationMessage(EventMethod, [HubEnvelopes.From(e)]));
            foreach (var connection in connections.Values)
                Offer(connection, e.ConversationId, e.Seq, message, e.CommittedAt);
        }

        if (e.TryRead<MemberLeftData>(out var left) && _byUser.TryGetValue(left.UserId, out var leaving))
            foreach (var connection in leaving.Values)
                EndAt(connection, e.ConversationId, e.Seq);
    }

    /// <summary>Sends to the members' connections of this conversation except <paramref name="except"/>'s; not ordered, not stored.</summary>
    public void Broadcast(Guid conversationId, Guid except, string method, object payload) => Broadcast(conversationId, except, [], method, payload);

    /// <summary>As <see cref="Broadcast(Guid, Guid, string, object)"/>, and not to the connections of <paramref name="hiddenFrom"/>.</summary>
    public void Broadcast(Guid conversationId, Guid except, IReadOnlyList<Guid> hiddenFrom, string method, object payload)
    {
        if (!_byConversation.TryGetValue(conversationId, out var connections))
            return;
        var message = new SerializedHubMessage(new InvocationMessage(method, [payload]));
        foreach (var connection in connections.Values)
            if (connection.UserId != except && !hiddenFrom.Contains(connection.UserId) && !connection.TrySend(message))
                Disconnect(connection, "The connection did not keep up with its messages.");
    }

    /// <summary>
    /// Replays the log after <paramref name="afterSeq"/> to the connection, then continues live: events arriving
    /// meanwhile are held and sent after the replay, each seq once.
    /// </summary>
    public async Task ResumeAsync(RealtimeConnection connection, Guid conversationId, long afterSeq, bool live, CancellationToken cancellationToken)
    {
        lock (connection)
        {
            if (live)
            {
                if (!connection.Cursors.TryGetValue(conversationId, out var existing))
                {
                    connection.Cursors[conversationId] = existing = new Cursor(afterSeq);
                    _byConversation.GetOrAdd(conversationId, _ => new())[connection.Id] = connection;
                }
                else if (existing is { AwaitingResume: true, ReadLogOnRelease: false } && afterSeq >= existing.StartSeq)
                {
                    // The client is at or past where this subscription started, and everything since is held here:
                    // nothing to read from the log (what a reconnecting client without news costs is no request).
                    existing.AwaitingResume = false;
                    existing.LastSentSeq = afterSeq;
                    existing.StartSeq = afterSeq;
                    if (DrainHeld(connection, conversationId, existing) != Drained.Hole)
                        return;
                    afterSeq = existing.LastSentSeq;
                }
                existing.LastSentSeq = afterSeq;
                existing.StartSeq = afterSeq;
                // The replay about to start reads the log after anything that was lost before now.
                existing.ReadLogOnRelease = false;
                existing.Replaying = true;
                existing.AwaitingResume = false;
            }
        }
        await ReplayAsync(connection, conversationId, afterSeq, cancellationToken);
    }

    /// <summary>Fills every connection's every conversation from the log, from where each connection is.</summary>
    public void ResyncAll()
    {
        foreach (var connection in _connections.Values)
        {
            List<(Guid Conversation, long After)> start = [];
            lock (connection)
                foreach (var (conversationId, cursor) in connection.Cursors)
                    if (!cursor.Replaying)
                    {
                        cursor.Replaying = true;
                        start.Add((conversationId, cursor.LastSentSeq));
                    }
                    else
                        // Waiting for a resume, or a replay under way that may have read the log before what was lost.
                        cursor.ReadLogOnRelease = true;
            foreach (var (conversationId, after) in start)
                _ = ReplayAsync(connection, conversationId, after, connection.Context.ConnectionAborted);
        }
    }

    // The leaving member still gets the event of their leaving (and what came before it, if a replay is
    // catching up), then nothing more.
    private void EndAt(RealtimeConnection connection, Guid conversationId, long seq)
    {
        lock (connection)
        {
            if (!connection.Cursors.TryGetValue(conversationId, out var cursor))
                return;
            if (cursor.LastSentSeq >= seq)
                Unsubscribe(connection, conversationId);
            else
                cursor.EndSeq = seq;
        }
    }

    private void SubscribeUser(Guid userId, Guid conversationId, long lastSeq)
    {
        if (_byUser.TryGetValue(userId, out var connections))
            foreach (var connection in connections.Values)
                Subscribe(connection, conversationId, lastSeq);
    }

    private void Offer(RealtimeConnection connection, Guid conversationId, long seq, SerializedHubMessage message, DateTimeOffset? committedAt)
    {
        var fillGapAfter = -1L;
        lock (connection)
        {
            if (!connection.Cursors.TryGetValue(conversationId, out var cursor) || seq <= cursor.LastSentSeq || seq > cursor.EndSeq)
                return;
            if (cursor.Replaying || seq > cursor.LastSentSeq + 1)
            {
                // A replay that cannot catch up (Messaging down for long) must not hold events without bound.
                if (cursor.Held.Count >= options.Value.SendQueueLimit)
                {
                    Disconnect(connection, "The connection fell too far behind; reconnect and resume.");
                    return;
                }
                cursor.Held.Add((seq, message, committedAt));
                if (!cursor.Replaying)
                {
                    // An event went missing on the way here: fetch it from the log before going on.
                    cursor.Replaying = true;
                    fillGapAfter = cursor.LastSentSeq;
                }
            }
            else
                SendInOrder(connection, conversationId, cursor, seq, message, committedAt);
        }
        if (fillGapAfter >= 0)
            _ = ReplayAsync(connection, conversationId, fillGapAfter, connection.Context.ConnectionAborted);
    }

    private async Task ReplayAsync(RealtimeConnection connection, Guid conversationId, long after, CancellationToken cancellationToken)
    {
        try
        {
            using var scope = scopes.CreateScope();
            var messaging = scope.ServiceProvider.GetRequiredService<MessagingClient>();
            var position = after;
            while (true)
            {
                var page = await ReadLogAsync(messaging, connection, conversationId, position, cancellationToken);
                if (page is null)
                {
                    Unsubscribe(connection, conversationId);
                    throw new HubException("Conversation not found.");
                }
                lock (connection)
                {
                    connection.Cursors.TryGetValue(conversationId, out var cursor);
                    foreach (var (seq, message) in page.Messages)
                    {
                        position = seq;
                        if (cursor is not null && (seq <= cursor.LastSentSeq || seq > cursor.EndSeq))
                            continue;
                        if (cursor is null ? !Send(connection, message) : !SendInOrder(connection, conversationId, cursor, seq, message, null))
                            return;
                    }
                    if (page.More)
                        continue;
                    if (cursor is null)
                        return;
                    // Caught up with the log: send what arrived live meanwhile, as long as it follows on.
                    if (cursor.ReadLogOnRelease)
                    {
                        // Something may have been lost after this replay read the log: read it once more.
                        cursor.ReadLogOnRelease = false;
                        position = cursor.LastSentSeq;
                        continue;
                    }
                    if (DrainHeld(connection, conversationId, cursor) != Drained.Hole)
                        return;
                    // Still a hole before what was held: read the log again from where the connection is.
                    position = cursor.LastSentSeq;
                }
            }
        }
        catch (Exception exception) when (exception is not HubException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Replay of conversation {ConversationId} to connection {ConnectionId} failed; closing it so the client resumes",
                conversationId, connection.Id);
            Disconnect(connection, "The server could not replay the conversation; reconnect and resume.");
        }
    }

    private enum Drained { Done, Hole, Closed }

    // Sends the held events that follow on from what the connection has (the caller holds the connection's lock).
    // Done: nothing is held any more and live events flow again; Hole: something before the rest of what is held
    // is missing and must be read from the log (the cursor stays replaying); Closed: the connection went away.
    private Drained DrainHeld(RealtimeConnection connection, Guid conversationId, Cursor cursor)
    {
        cursor.Held.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        var held = cursor.Held.ToList();
        cursor.Held.Clear();
        foreach (var (seq, message, committedAt) in held)
        {
            if (seq <= cursor.LastSentSeq || seq > cursor.EndSeq)
                continue;
            if (seq > cursor.LastSentSeq + 1)
            {
                cursor.Held.Add((seq, message, committedAt));
                continue;
            }
            if (!SendInOrder(connection, conversationId, cursor, seq, message, committedAt))
                return Drained.Closed;
        }
        if (cursor.EndSeq is { } end && cursor.LastSentSeq >= end)
        {
            Unsubscribe(connection, conversationId);
            return Drained.Done;
        }
        if (cursor.Held.Count > 0)
            return Drained.Hole;
        cursor.Replaying = false;
        return Drained.Done;
    }

    /// <summary>
    /// The user's conversations and their last seqs, for a connection being set up: within the instance's bound on
    /// concurrent reads of Messaging, and tried again with backoff while the connection lives if Messaging is slow or
    /// away. Failing the connection instead would make the client reconnect and ask again: a loop that feeds the overload
    /// after a Gateway restart, when every client comes back at once.
    /// </summary>
    public Task<IReadOnlyList<MessagingClient.Joined>> ReadJoinedAsync(MessagingClient messaging, RealtimeConnection connection, CancellationToken cancellationToken) =>
        WithMessagingSlotAsync(() => messaging.JoinedAsync(connection.AccessToken, cancellationToken), "joined", connection, cancellationToken);

    // One page of the log, within the instance's bound on concurrent reads. A read that fails (Messaging restarting,
    // overloaded, unreachable) is tried again with backoff for as long as the connection lives: disconnecting instead
    // would make the client reconnect and replay again, a loop that feeds the overload.
    //
    // Connections replaying one conversation from one seq share a read (after a Gateway restart, every member of a
    // conversation with news asks for the same page): whoever asks first waits for a slot and reads; whoever asks for
    // the same page before that read starts waits for it and takes it, if Messaging said any active member reads the
    // same and the connection is a live member here. A read that started before a connection asked is never handed to
    // it: what was committed before the connection asked is in the page, what comes after reaches it live or is held.
    private async Task<LogPage?> ReadLogAsync(
        MessagingClient messaging, RealtimeConnection connection, Guid conversationId, long after, CancellationToken cancellationToken)
    {
        var key = (conversationId, after);
        Task<LogPage?> Read(Action? starting = null) => WithMessagingSlotAsync(() =>
        {
            starting?.Invoke();
            return messaging.EventsAsync(connection.AccessToken, conversationId, after, cancellationToken);
        }, $"conversation {conversationId} after {after}", connection, cancellationToken);

        // Only a live member's connection may take another's read; anyone else reads for themselves at once.
        if (!IsLiveMember(connection, conversationId))
            return await Read();
        SharedLogRead? read;
        bool first;
        lock (_sharedReads)
        {
            first = !_sharedReads.TryGetValue(key, out read);
            if (first)
                _sharedReads[key] = read = new SharedLogRead();
        }
        if (!first)
        {
            var shared = await read!.Page.Task.WaitAsync(cancellationToken);
            if (shared is { SameForEveryMember: true } && IsLiveMember(connection, conversationId))
            {
                metrics.ReplayRead("shared");
                return shared;
            }
            return await Read();
        }

        // From the read's start on, whoever asks for this page waits for the next read of it, not this one.
        void Forget()
        {
            lock (_sharedReads)
                if (_sharedReads.TryGetValue(key, out var current) && ReferenceEquals(current, read))
                    _sharedReads.Remove(key);
        }
        try
        {
            var page = await Read(starting: Forget);
            read!.Page.TrySetResult(page);
            return page;
        }
        finally
        {
            Forget();
            // This connection went away (or its read failed for good): the others read for themselves.
            read!.Page.TrySetResult(null);
        }
    }

    private static bool IsLiveMember(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
            return connection.Cursors.TryGetValue(conversationId, out var cursor) && cursor.EndSeq is null;
    }

    private sealed class SharedLogRead
    {
        public TaskCompletionSource<LogPage?> Page { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task<T> WithMessagingSlotAsync<T>(Func<Task<T>> read, string what, RealtimeConnection connection, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            metrics.ReplayWaiting(1);
            try
            {
                await _replaySlots.WaitAsync(cancellationToken);
            }
            finally
            {
                metrics.ReplayWaiting(-1);
            }
            try
            {
                var result = await read();
                metrics.ReplayRead("ok");
                return result;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                metrics.ReplayRead("failed");
                logger.LogWarning("Reading {What} from Messaging for connection {ConnectionId} failed ({Error}); trying again in {Delay}",
                    what, connection.Id, exception.Message, delay);
            }
            finally
            {
                _replaySlots.Release();
            }
            await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next((int)delay.TotalMilliseconds / 2 + 1)), time, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.ReplayRetryMaxInterval.Ticks));
        }
    }

    // The next event of the conversation for this connection (the caller holds the connection's lock).
    private bool SendInOrder(RealtimeConnection connection, Guid conversationId, Cursor cursor, long seq, SerializedHubMessage message, DateTimeOffset? committedAt)
    {
        if (!Send(connection, message))
            return false;
        cursor.LastSentSeq = seq;
        metrics.Delivered(committedAt is { } at ? time.GetUtcNow() - at : null);
        if (seq == cursor.EndSeq)
            Unsubscribe(connection, conversationId);
        return true;
    }

    private bool Send(RealtimeConnection connection, SerializedHubMessage message)
    {
        if (connection.TrySend(message))
            return true;
        Disconnect(connection, "The connection did not keep up with its messages.");
        return false;
    }

    /// <summary>Closes every connection of the user on this instance, telling the client not to reconnect.</summary>
    public void DisconnectUser(Guid userId, string reason)
    {
        if (!_byUser.TryGetValue(userId, out var connections))
            return;
        List<RealtimeConnection> open;
        lock (connections)
            open = [.. connections.Values];
        foreach (var connection in open)
            Disconnect(connection, reason, allowReconnect: false);
    }

    /// <summary>Closes a connection with a reason the client sees; the client may reconnect and resume.</summary>
    public void Disconnect(RealtimeConnection connection, string reason) => Disconnect(connection, reason, allowReconnect: true);

    private void Disconnect(RealtimeConnection connection, string reason, bool allowReconnect)
    {
        if (connection.Closed)
            return;
        connection.Close();
        metrics.Disconnected(reason);
        logger.LogInformation("Disconnecting {ConnectionId} of user {UserId}: {Reason}", connection.Id, connection.UserId, reason);
        var context = connection.Context;
        _ = Task.Run(async () =>
        {
            try
            {
                // The transport may be full (that is often why): do not wait long for the goodbye.
                await context.WriteAsync(new CloseMessage(reason, allowReconnect)).AsTask().WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (Exception exception) when (exception is TimeoutException or OperationCanceledException or InvalidOperationException)
            {
            }
            context.Abort();
        });
    }
}
