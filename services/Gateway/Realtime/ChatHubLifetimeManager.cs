using Microsoft.AspNetCore.SignalR;

namespace Platform.Gateway.Realtime;

/// <summary>
/// SignalR's in-memory lifetime manager, telling the <see cref="ConnectionIndex"/> about each connection as it opens
/// and closes: the Gateway writes pre-serialized messages to connections itself, through a bounded queue per connection.
/// </summary>
public sealed class ChatHubLifetimeManager(ConnectionIndex connections, PresenceWatchers watchers, ConnectionReporter reporter, ILogger<DefaultHubLifetimeManager<ChatHub>> logger)
    : DefaultHubLifetimeManager<ChatHub>(logger)
{
    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        connections.Add(connection);
        await base.OnConnectedAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        if (connections.Remove(connection.ConnectionId) is { } closed)
        {
            watchers.Watch(closed, []);
            // Presence heard of the connection only once it had a user.
            if (closed.UserId != Guid.Empty)
                reporter.Closed(closed);
        }
        await base.OnDisconnectedAsync(connection);
    }
}
