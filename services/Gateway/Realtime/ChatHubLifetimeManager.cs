using Microsoft.AspNetCore.SignalR;

namespace Platform.Gateway.Realtime;

/// <summary>
/// SignalR's in-memory lifetime manager, telling the registry about each connection as it opens and closes: the
/// registry writes pre-serialized messages to connections itself, through a bounded queue per connection.
/// </summary>
public sealed class ChatHubLifetimeManager(ConnectionRegistry registry, ConnectionReporter reporter, ILogger<DefaultHubLifetimeManager<ChatHub>> logger)
    : DefaultHubLifetimeManager<ChatHub>(logger)
{
    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        registry.Add(connection);
        await base.OnConnectedAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        // Presence heard of the connection only once it had a user.
        if (registry.Remove(connection.ConnectionId) is { UserId: var userId } closed && userId != Guid.Empty)
            reporter.Closed(closed);
        await base.OnDisconnectedAsync(connection);
    }
}
