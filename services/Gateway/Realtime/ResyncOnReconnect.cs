using MassTransit;

namespace Platform.Gateway.Realtime;

/// <summary>
/// When this instance's queue comes back after the broker was away, events published meanwhile never reached it:
/// every connection is brought up to date from Messaging's log.
/// </summary>
public sealed class ResyncOnReconnect(ConnectionRegistry registry, ILogger<ResyncOnReconnect> logger) : IReceiveEndpointObserver
{
    private int _readyCount;

    public Task Ready(ReceiveEndpointReady ready)
    {
        if (ready.InputAddress.AbsolutePath.Contains("conversation-event", StringComparison.Ordinal) && Interlocked.Increment(ref _readyCount) > 1)
        {
            logger.LogInformation("The conversation-event queue is back; resynchronising {Count} connections from the log", registry.Count);
            registry.ResyncAll();
        }
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
