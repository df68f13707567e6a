using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Which connections of this instance watch whose presence (the hub's <c>WatchPresence</c>), and the newest presence
/// version passed on per watched user: an older change arriving after a newer one is dropped.
/// </summary>
public sealed class PresenceWatchers(ConnectionIndex connections)
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, RealtimeConnection>> _watchers = new();
    private readonly ConcurrentDictionary<Guid, long> _presenceVersions = new();

    /// <summary>Replaces the users whose presence changes the connection receives; a closed connection ends up watching none.</summary>
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
    /// Stops passing on the presence of <paramref name="userIds"/> to the connection; each comes back with
    /// <see cref="RestoreWatching"/> if the connection may still see it.
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

    /// <summary>A user's presence changed: to the connections watching them, unless a newer change was passed on already.</summary>
    public void Deliver(Guid userId, long version, object payload)
    {
        if (!_watchers.TryGetValue(userId, out var watchers))
            return;
        lock (watchers)
        {
            if (_presenceVersions.TryGetValue(userId, out var newest) && newest >= version)
                return;
            _presenceVersions[userId] = version;
        }
        var message = new SerializedHubMessage(new InvocationMessage(HubMethods.Presence, [payload]));
        foreach (var connection in watchers.Values)
            connections.Send(connection, message);
    }
}
