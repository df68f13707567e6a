using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Realtime;

/// <summary>The client methods the hub calls (what a connection receives).</summary>
public static class HubMethods
{
    public const string Event = "event";
    public const string Typing = "typing";
    public const string Receipt = "receipt";
    public const string Presence = "presence";
    public const string Signal = "signal";
    public const string Notification = "notification";
    public const string Ephemeral = "ephemeral";
}

/// <summary>
/// The connections of this Gateway instance, indexed by id, by user and by conversation; what is sent to them
/// unordered (typing, receipts, signals, notifications) and how they are closed. What each connection receives of a
/// conversation's events, and in which order, is <see cref="ConversationStreams"/>'s.
/// </summary>
public sealed class ConnectionIndex(IOptions<RealtimeOptions> options, RealtimeMetrics metrics, TimeProvider time, ILogger<ConnectionIndex> logger)
{
    private readonly ConcurrentDictionary<string, RealtimeConnection> _connections = new();
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _byUser = new();
    // The connections with a stream of the conversation: the keys of each connection's Streams, kept with them.
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _byConversation = new();

    public int Count => _connections.Count;

    public ICollection<RealtimeConnection> All => _connections.Values;

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

    /// <summary>
    /// Forgets a connection that ended, with its streams; returns it (closed), or null when it was not (or no longer)
    /// known. Its presence watches are <see cref="PresenceWatchers"/>' to end.
    /// </summary>
    public RealtimeConnection? Remove(string connectionId)
    {
        if (!_connections.TryRemove(connectionId, out var connection))
            return null;
        connection.Close();
        metrics.ConnectionClosed();
        if (_byUser.TryGetValue(connection.UserId, out var mine))
            lock (mine)
                mine.TryRemove(connectionId, out _);
        lock (connection)
        {
            foreach (var conversationId in connection.Streams.Keys)
                if (_byConversation.TryGetValue(conversationId, out var members))
                    members.TryRemove(connectionId, out _);
            connection.Streams.Clear();
        }
        return connection;
    }

    /// <summary>The user's connections on this instance, or null when there are none.</summary>
    public ConcurrentDictionary<string, RealtimeConnection>? OfUser(Guid userId) => _byUser.GetValueOrDefault(userId);

    /// <summary>The connections with a stream of the conversation, or null when there are none.</summary>
    public ConcurrentDictionary<string, RealtimeConnection>? InConversation(Guid conversationId) => _byConversation.GetValueOrDefault(conversationId);

    /// <summary>The connection has a stream of the conversation now (the caller holds the connection's lock).</summary>
    public void Joined(RealtimeConnection connection, Guid conversationId) =>
        _byConversation.GetOrAdd(conversationId, _ => new())[connection.Id] = connection;

    /// <summary>The connection's stream of the conversation ended (the caller holds the connection's lock).</summary>
    public void Left(RealtimeConnection connection, Guid conversationId)
    {
        if (_byConversation.TryGetValue(conversationId, out var members))
            members.TryRemove(connection.Id, out _);
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

    /// <summary>
    /// To the connections of this conversation (those with its stream: members) of the given users; serialized once; not
    /// ordered, not stored.
    /// </summary>
    public void SendToMembers(Guid conversationId, IReadOnlyCollection<Guid> userIds, string method, object payload)
    {
        if (userIds.Count == 0 || !_byConversation.TryGetValue(conversationId, out var connections))
            return;
        var wanted = userIds.Count <= 8 ? userIds : userIds.ToHashSet();
        SerializedHubMessage? message = null;
        foreach (var (_, connection) in connections)
            if (wanted.Contains(connection.UserId))
                Send(connection, message ??= new SerializedHubMessage(new InvocationMessage(method, [payload])));
    }

    /// <summary>Sends to the members' connections of this conversation except <paramref name="except"/>'s; not ordered, not stored.</summary>
    public void Broadcast(Guid conversationId, Guid except, string method, object payload) => Broadcast(conversationId, except, [], method, payload);

    /// <summary>As <see cref="Broadcast(Guid, Guid, string, object)"/>, and not to the connections of <paramref name="hiddenFrom"/>.</summary>
    public void Broadcast(Guid conversationId, Guid except, IReadOnlyList<Guid> hiddenFrom, string method, object payload)
    {
        if (!_byConversation.TryGetValue(conversationId, out var connections))
            return;
        var message = new SerializedHubMessage(new InvocationMessage(method, [payload]));
        foreach (var (_, connection) in connections)
            if (connection.UserId != except && !hiddenFrom.Contains(connection.UserId) && !connection.TrySend(message))
                Disconnect(connection, "The connection did not keep up with its messages.");
    }

    /// <summary>Queues a message for the connection; when its queue is full, closes it (the client resumes) and answers false.</summary>
    public bool Send(RealtimeConnection connection, SerializedHubMessage message)
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
