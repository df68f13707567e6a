using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;

namespace Platform.Gateway.Realtime;

/// <summary>
/// The Gateway's ordering engine: what each connection receives of its conversations' events, every event exactly
/// once and in seq order. Each connection has a <see cref="ConversationSequencer"/> per conversation (the decisions,
/// kept in <see cref="RealtimeConnection.Streams"/> and changed under the connection's lock); this class feeds them
/// from the bus, the setup of a connection, the client's resume, the resume grace and the <see cref="Replayer"/>, and
/// keeps <see cref="ConnectionIndex"/>'s by-conversation index in step with them.
/// </summary>
public sealed class ConversationStreams(
    ConnectionIndex connections, Replayer replayer, IOptions<RealtimeOptions> options, RealtimeMetrics metrics, TimeProvider time)
{
    private readonly int _holdLimit = options.Value.SendQueueLimit;
    // Connections being set up: they see every conversation event delivered meanwhile (see BeginSetup).
    private readonly ConcurrentDictionary<string, RealtimeConnection> _settingUp = new();

    /// <summary>
    /// For each conversation the connection receives, the seq after which every event reaches it: what the client
    /// did not get before it can read from the log up to there, and needs nothing else to be complete.
    /// </summary>
    public IReadOnlyList<(Guid ConversationId, long Seq)> Positions(RealtimeConnection connection)
    {
        lock (connection)
            return connection.Streams.Where(entry => entry.Value.IsLive).Select(entry => (entry.Key, entry.Value.StartSeq)).ToList();
    }

    public bool IsSubscribed(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
            return connection.Streams.ContainsKey(conversationId);
    }

    /// <summary>Whether the connection receives the conversation's events live (it has a stream, and its member has not left).</summary>
    public bool IsLiveMember(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
            return connection.Streams.TryGetValue(conversationId, out var stream) && stream.IsLive;
    }

    /// <summary>Starts sending the conversation's events after <paramref name="lastSeq"/> (unless already subscribed).</summary>
    public void Subscribe(RealtimeConnection connection, Guid conversationId, long lastSeq)
    {
        lock (connection)
        {
            if (connection.Streams.TryGetValue(conversationId, out var existing))
            {
                existing.Rejoined();
                return;
            }
            if (connection.Closed)
                return;
            if (time.GetUtcNow() - connection.OpenedAt >= options.Value.ResumeGrace)
            {
                connection.Streams[conversationId] = new ConversationSequencer(lastSeq);
                connections.Joined(connection, conversationId);
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
                foreach (var stream in connection.Streams.Values)
                    stream.SetupOverflowed();
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
                if (connection.Streams.TryGetValue(conversationId, out var existing))
                {
                    // Subscribed meanwhile by a late conversation.created or member.joined.
                    existing.SetupAnswered(lastSeq);
                    continue;
                }
                connection.Streams[conversationId] = ConversationSequencer.AwaitingResumeAfter(lastSeq);
                connections.Joined(connection, conversationId);
                waiting.Add(conversationId);
            }
        }
        if (waiting.Count == 0)
            return;
        _ = Task.Delay(options.Value.ResumeGrace, time, connection.Context.ConnectionAborted).ContinueWith(_ =>
        {
            foreach (var conversationId in waiting)
            {
                long readAfter;
                lock (connection)
                {
                    if (!connection.Streams.TryGetValue(conversationId, out var stream)
                        || !ReadLogAfter(connection, conversationId, stream.ResumeGraceEnded(new ConnectionSink(this, connection))))
                        continue;
                    readAfter = stream.LastSentSeq;
                }
                _ = replayer.ReplayAsync(this, connection, conversationId, readAfter, connection.Context.ConnectionAborted);
            }
        }, TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    public void Unsubscribe(RealtimeConnection connection, Guid conversationId)
    {
        lock (connection)
        {
            connection.Streams.Remove(conversationId);
            connections.Left(connection, conversationId);
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
            message = new SerializedHubMessage(new InvocationMessage(HubMethods.Event, [HubEnvelopes.From(e)]));
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
        if (connections.InConversation(e.ConversationId) is { IsEmpty: false } members)
        {
            message ??= new SerializedHubMessage(new InvocationMessage(HubMethods.Event, [HubEnvelopes.From(e)]));
            foreach (var (_, connection) in members)
                Offer(connection, e.ConversationId, e.Seq, message, e.CommittedAt);
        }

        if (e.TryRead<MemberLeftData>(out var left) && connections.OfUser(left.UserId) is { } leaving)
            foreach (var connection in leaving.Values)
                EndAt(connection, e.ConversationId, e.Seq);
    }

    /// <summary>
    /// Events a send forwarded by this instance committed, from Messaging's answer, ahead of the bus: for the local
    /// connections already receiving the conversation live. Whoever is not (being set up, resuming, replaying, or not
    /// subscribed yet because their joining is still on the bus) gets the bus's copy as before, which everyone else
    /// drops as a duplicate. Events that change who receives the conversation take only the bus's way.
    /// </summary>
    public void DeliverAhead(ConversationEvent e)
    {
        if (e.Type is ConversationEventTypes.ConversationCreated or ConversationEventTypes.MemberJoined or ConversationEventTypes.MemberLeft
            || connections.InConversation(e.ConversationId) is not { IsEmpty: false } members)
            return;
        var message = new SerializedHubMessage(new InvocationMessage(HubMethods.Event, [HubEnvelopes.From(e)]));
        foreach (var (_, connection) in members)
            lock (connection)
                if (connection.Streams.TryGetValue(e.ConversationId, out var stream)
                    && stream.OfferAhead(e.Seq, message, e.CommittedAt, _holdLimit, new ConnectionSink(this, connection, ahead: true)) == SequencedStep.Ended)
                    Unsubscribe(connection, e.ConversationId);
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
                if (!connection.Streams.TryGetValue(conversationId, out var stream))
                {
                    connection.Streams[conversationId] = stream = new ConversationSequencer(afterSeq);
                    connections.Joined(connection, conversationId);
                }
                if (!ReadLogAfter(connection, conversationId, stream.Resume(afterSeq, new ConnectionSink(this, connection))))
                    return;
                afterSeq = stream.LastSentSeq;
            }
        }
        await replayer.ReplayAsync(this, connection, conversationId, afterSeq, cancellationToken);
    }

    /// <summary>Fills every connection's every conversation from the log, from where each connection is.</summary>
    public void ResyncAll()
    {
        foreach (var connection in connections.All)
        {
            List<(Guid Conversation, long After)> start = [];
            lock (connection)
                foreach (var (conversationId, stream) in connection.Streams)
                    if (stream.MayHaveLostEvents())
                        start.Add((conversationId, stream.LastSentSeq));
            foreach (var (conversationId, after) in start)
                _ = replayer.ReplayAsync(this, connection, conversationId, after, connection.Context.ConnectionAborted);
        }
    }

    /// <summary>
    /// A page the <see cref="Replayer"/> read after <paramref name="position"/>, for the connection's stream; answers
    /// where to read next, or null when the stream has caught up (or the connection is gone). A connection without a
    /// stream of the conversation (a former member reading up to their leaving) gets the page as it is.
    /// </summary>
    public long? TakeReplayed(RealtimeConnection connection, Guid conversationId, LogPage page, long position)
    {
        lock (connection)
        {
            connection.Streams.TryGetValue(conversationId, out var stream);
            var sink = new ConnectionSink(this, connection);
            foreach (var (seq, message) in page.Messages)
            {
                position = seq;
                if (stream is null)
                {
                    if (!connections.Send(connection, message))
                        return null;
                    continue;
                }
                var step = stream.Replayed(seq, message, sink);
                if (step == SequencedStep.Closed)
                    return null;
                if (step == SequencedStep.Ended)
                    Unsubscribe(connection, conversationId);
            }
            if (page.More)
                return position;
            if (stream is null)
                return null;
            // Caught up with the log: send what arrived live meanwhile, as long as it follows on.
            return ReadLogAfter(connection, conversationId, stream.ReplayCaughtUp(sink)) ? stream.LastSentSeq : null;
        }
    }

    // The leaving member still gets the event of their leaving (and what came before it, if a replay is
    // catching up), then nothing more.
    private void EndAt(RealtimeConnection connection, Guid conversationId, long seq)
    {
        lock (connection)
            if (connection.Streams.TryGetValue(conversationId, out var stream) && stream.EndAt(seq))
                Unsubscribe(connection, conversationId);
    }

    private void SubscribeUser(Guid userId, Guid conversationId, long lastSeq)
    {
        if (connections.OfUser(userId) is { } mine)
            foreach (var connection in mine.Values)
                Subscribe(connection, conversationId, lastSeq);
    }

    private void Offer(RealtimeConnection connection, Guid conversationId, long seq, SerializedHubMessage message, DateTimeOffset? committedAt)
    {
        long fillGapAfter;
        lock (connection)
        {
            if (!connection.Streams.TryGetValue(conversationId, out var stream))
                return;
            switch (stream.Offer(seq, message, committedAt, _holdLimit, new ConnectionSink(this, connection)))
            {
                case SequencedStep.Ended:
                    Unsubscribe(connection, conversationId);
                    return;
                case SequencedStep.Overflowed:
                    connections.Disconnect(connection, "The connection fell too far behind; reconnect and resume.");
                    return;
                case SequencedStep.FillGap:
                    // An event went missing on the way here: fetch it from the log before going on.
                    fillGapAfter = stream.LastSentSeq;
                    break;
                default:
                    return;
            }
        }
        _ = replayer.ReplayAsync(this, connection, conversationId, fillGapAfter, connection.Context.ConnectionAborted);
    }

    // Acts on what a stream needs after catching up (the caller holds the connection's lock): true when the log is to
    // be read after its LastSentSeq.
    private bool ReadLogAfter(RealtimeConnection connection, Guid conversationId, SequencerNext next)
    {
        if (next == SequencerNext.Ended)
            Unsubscribe(connection, conversationId);
        return next == SequencerNext.ReadLog;
    }

    // The next event of a conversation for the connection, in order: queued, and counted with its latency since commit.
    private bool SendInOrder(RealtimeConnection connection, SerializedHubMessage message, DateTimeOffset? committedAt, bool ahead)
    {
        if (!connections.Send(connection, message))
            return false;
        metrics.Delivered(committedAt is { } at ? time.GetUtcNow() - at : null, ahead);
        return true;
    }

    // A struct, so a delivery allocates nothing for it; the sequencer's generic methods are compiled for it. Ahead: what
    // a send's answer let through (counted apart from what the bus, a resume or a replay let through).
    private readonly struct ConnectionSink(ConversationStreams streams, RealtimeConnection connection, bool ahead = false) : ISequencedSink
    {
        public bool Send(long seq, SerializedHubMessage message, DateTimeOffset? committedAt) => streams.SendInOrder(connection, message, committedAt, ahead);
    }
}
