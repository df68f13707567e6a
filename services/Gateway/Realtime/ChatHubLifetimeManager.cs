using Microsoft.AspNetCore.SignalR;

namespace Platform.Gateway.Realtime;

/// <summary>
/// SignalR's in-memory lifetime manager, telling the registry about each connection as it opens and closes: the
/// registry writes pre-serialized messages to connections itself, through a bounded queue per connection.
/// </summary>
public sealed class ChatHubLifetimeManager(ConnectionRegistry registry, ILogger<DefaultHubLifetimeManager<ChatHub>> logger)
    : DefaultHubLifetimeManager<ChatHub>(logger)
{
    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        registry.Add(connection);
        await base.OnConnectedAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        registry.Remove(connection.ConnectionId);
        await base.OnDisconnectedAsync(connection);
    }
}
