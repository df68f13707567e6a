using MassTransit;

namespace Platform.Gateway.Realtime;

/// <summary>
/// When this instance's queue is ready, the first time or again after the broker was away, events published before
/// never reached it: every connection already open (the instance takes connections before it reaches the broker) is
/// brought up to date from Messaging's log. At an ordinary start there are none, and this costs nothing.
/// </summary>
public sealed class ResyncOnReconnect(ConnectionIndex connections, ConversationStreams streams, ILogger<ResyncOnReconnect> logger) : IReceiveEndpointObserver
{
    public Task Ready(ReceiveEndpointReady ready)
    {
        if (ready.InputAddress.AbsolutePath.Contains("conversation-event", StringComparison.Ordinal) && connections.Count > 0)
        {
            logger.LogInformation("The conversation-event queue is back; resynchronising {Count} connections from the log", connections.Count);
            streams.ResyncAll();
        }
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
