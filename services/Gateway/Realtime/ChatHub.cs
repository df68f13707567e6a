using System.Collections.Concurrent;
using MassTransit;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;
using Platform.ServiceDefaults;

namespace Platform.Gateway.Realtime;

/// <summary>
/// The realtime hub at <c>/hubs/chat</c>. On connect a connection receives the events of every conversation its
/// user belongs to; <see cref="Resume"/> replays what a client missed and continues live without gap or duplicate.
/// </summary>
[Authorize]
public sealed class ChatHub(
    ConnectionIndex connections, ConversationStreams streams, Replayer replayer, PresenceWatchers watchers, MessagingClient messaging, PresenceClient presence, ConnectionReporter reporter, AckBatcher acks,
    IBus bus, GatewayInstance instance, IOptions<RealtimeOptions> options, TimeProvider time, CallAccess calls,
    TokenRevocations revocations, TypingBlocks blocks) : Hub
{
    private static readonly ConcurrentDictionary<(Guid User, Guid Conversation), DateTimeOffset> LastTyping = new();

    /// <summary>How long a typing notice may wait for the broker before it is dropped.</summary>
    public static readonly TimeSpan TypingPublishBound = TimeSpan.FromSeconds(2);

    public override async Task OnConnectedAsync()
    {
        var connection = connections.Find(Context.ConnectionId) ?? throw new HubException("Connection not registered.");
        var userId = Guid.TryParse(Context.User?.FindFirst("sub")?.Value, out var id) ? id : throw new HubException("The token has no user id.");
        if (!connections.TryAssignUser(connection, userId))
            throw new HubException($"Too many connections: at most {options.Value.MaxConnectionsPerUser} per user.");
        // A revocation that arrived between the token's check and this registration closed nothing: close this one.
        if (Context.User is { } user && revocations.IsRevoked(user))
            throw new HubException("The token was revoked.");
        var http = Context.GetHttpContext()!;
        connection.AccessToken = AccessToken(http);
        reporter.Opened(connection, DeviceKind(http));

        // Registered first, so membership events arriving meanwhile already reach this connection; and every event
        // delivered while Messaging is asked is kept for it, so none falls between that answer and the subscriptions.
        streams.BeginSetup(connection);
        try
        {
            var joined = await replayer.ReadJoinedAsync(messaging, connection, Context.ConnectionAborted);
            streams.SubscribeAwaitingResume(connection, joined.Select(conversation => (conversation.Id, conversation.LastSeq)));
        }
        finally
        {
            streams.EndSetup(connection);
        }
    }

    /// <summary>Sends the conversation's events after <paramref name="afterSeq"/>, then its live events, each once and in order.</summary>
    public async Task Resume(Guid conversationId, long afterSeq)
    {
        if (afterSeq < 0)
            throw new HubException("afterSeq is a seq: zero or more.");
        var connection = Connection();
        // Former members may still read up to their leaving, but receive nothing live. A conversation the connection
        // receives already is one Messaging named when it connected (or that it joined since): no need to ask again,
        // which spares a request per conversation when thousands of clients resume at once.
        var member = streams.IsSubscribed(connection, conversationId)
            || await messaging.IsMemberAsync(connection.AccessToken, conversationId, Context.ConnectionAborted);
        await streams.ResumeAsync(connection, conversationId, afterSeq, live: member, Context.ConnectionAborted);
    }

    /// <summary>
    /// Where this connection's stream of each of the user's conversations starts: <c>[{conversationId, seq}]</c>. Every
    /// event with a higher seq reaches the connection, once and in order, with or without <see cref="Resume"/>
    /// (a conversation joined later starts before the event of the joining). A client without its own positions reads
    /// the log (<c>GET /api/v1/conversations/{id}/events?after=</c>) up to there and misses nothing.
    /// </summary>
    public IReadOnlyList<ConversationPosition> Positions() =>
        streams.Positions(Connection()).Select(position => new ConversationPosition(position.ConversationId, position.Seq)).ToList();

    /// <summary>Tells the other members that I am typing; at most once per 2 s per conversation, expiring after 5 s.</summary>
    public async Task Typing(Guid conversationId)
    {
        var connection = Connection();
        if (!streams.IsSubscribed(connection, conversationId))
            throw new HubException("Conversation not found.");
        var now = time.GetUtcNow();
        var key = (connection.UserId, conversationId);
        if (LastTyping.TryGetValue(key, out var last) && now - last < options.Value.TypingThrottle)
            return;
        LastTyping[key] = now;
        if (LastTyping.Count > 10_000)
            foreach (var (stale, at) in LastTyping)
                if (now - at >= options.Value.TypingThrottle)
                    LastTyping.TryRemove(stale, out _);
        var typing = new TypingChanged
        {
            ConversationId = conversationId, UserId = connection.UserId, InstanceId = instance.Id, StartedAt = now, ExpiresAt = now + options.Value.TypingExpiry,
            HiddenFrom = await blocks.HiddenFromAsync(connection.UserId, connection.AccessToken, Context.ConnectionAborted),
        };
        // A connection's calls run one at a time: a publish waiting for an unreachable broker would hold its Acks,
        // Resumes and the rest. Typing is over in seconds anyway: with the broker away it is dropped.
        try
        {
            await bus.PublishWithinAsync(typing, TypingPublishBound, Context.ConnectionAborted);
        }
        catch (BrokerUnavailableException)
        {
        }
    }

    /// <summary>The client has the conversation's events up to <paramref name="seq"/>: a delivered receipt, batched.</summary>
    public void Ack(Guid conversationId, long seq)
    {
        var connection = Connection();
        if (seq < 0)
            throw new HubException("seq is zero or more.");
        if (!streams.IsSubscribed(connection, conversationId))
            throw new HubException("Conversation not found.");
        acks.Add(connection.UserId, conversationId, seq);
    }

    /// <summary>
    /// Replaces the users whose presence changes this connection receives (as <c>presence</c>), at most 500; answers
    /// their presence now. Users the caller may not see answer <c>unknown</c> and are not watched.
    /// </summary>
    public async Task<IReadOnlyList<object?>> WatchPresence(string[]? userIds)
    {
        var connection = Connection();
        var ids = new HashSet<Guid>();
        foreach (var value in userIds ?? [])
            if (Guid.TryParse(value, out var id))
                ids.Add(id);
            else
                throw new HubException("userIds must be user ids (GUIDs).");
        if (ids.Count > MaxWatchedUsers)
            throw new HubException($"At most {MaxWatchedUsers} users may be watched by one connection.");
        if (ids.Count == 0)
        {
            watchers.Watch(connection, []);
            return [];
        }

        IReadOnlyList<System.Text.Json.JsonElement> now;
        try
        {
            now = await presence.GetAsync(connection.AccessToken, ids, Context.ConnectionAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !Context.ConnectionAborted.IsCancellationRequested)
        {
            throw new HubException("Presence is unavailable; try again shortly.");
        }
        watchers.Watch(connection, now
            .Where(item => item.GetProperty("status").GetString() != "unknown")
            .Select(item => item.GetProperty("userId").GetGuid())
            .ToList());
        return now.Select(HubEnvelopes.ToPlain).ToList();
    }

    /// <summary>
    /// Relays a WebRTC signal (an SDP offer or answer, an ICE candidate: a JSON object or string) to the connections of
    /// <paramref name="toUserId"/>, on whichever instance they are, as <c>signal</c> <c>{callId, fromUserId, payload}</c>.
    /// The caller must be in the call; the recipient in it or still being rung. Nothing is stored.
    /// </summary>
    public async Task Signal(Guid callId, Guid toUserId, object? payload)
    {
        var connection = Connection();
        var json = CallSignals.ToJson(payload, options.Value.MaxSignalPayloadBytes);
        string? refusal;
        try
        {
            refusal = await calls.CheckAsync(callId, connection.UserId, toUserId,
                () => messaging.GetCallAsync(connection.AccessToken, callId, Context.ConnectionAborted), Context.ConnectionAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !Context.ConnectionAborted.IsCancellationRequested)
        {
            throw new HubException("Calls are unavailable; try again shortly.");
        }
        if (refusal is not null)
            throw new HubException(refusal);
        var now = time.GetUtcNow();
        try
        {
            await bus.PublishWithinAsync(new CallSignal
            {
                CallId = callId, FromUserId = connection.UserId, ToUserId = toUserId, Payload = json, InstanceId = instance.Id,
                SentAt = now, ExpiresAt = now + options.Value.SignalExpiry,
            }, Context.ConnectionAborted);
        }
        catch (BrokerUnavailableException)
        {
            throw new HubException("Calls are unavailable; try again shortly.");
        }
    }

    private RealtimeConnection Connection() => connections.Find(Context.ConnectionId) ?? throw new HubException("Connection not registered.");

    public const int MaxWatchedUsers = 500;

    // As the client says, in the query (browsers cannot set headers on WebSockets) or a header.
    private static string DeviceKind(HttpContext http)
    {
        var kind = http.Request.Query["deviceKind"].ToString();
        if (kind.Length == 0)
            kind = http.Request.Headers["X-Device-Kind"].ToString();
        kind = kind.ToLowerInvariant();
        return ConnectionReporter.DeviceKinds.Contains(kind) ? kind : "other";
    }

    private static string AccessToken(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : http.Request.Query["access_token"].ToString();
    }
}

/// <summary>A conversation and the seq after which a connection receives all of its events.</summary>
public sealed record ConversationPosition(Guid ConversationId, long Seq);
