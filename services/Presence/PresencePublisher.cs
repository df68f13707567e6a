using MassTransit;
using Platform.Contracts.Presence;
using Platform.Presence.Data;

namespace Platform.Presence;

/// <summary>
/// Publishes a committed change at once; if that fails, the change stays marked in the store and the sweeper
/// publishes it later. A change may so leave twice: receivers keep the highest version.
/// </summary>
public sealed class PresencePublisher(IBus bus, PresenceStore store, ILogger<PresencePublisher> logger)
{
    public async Task PublishAsync(PresenceChanged? change, CancellationToken cancellationToken)
    {
        if (change is null)
            return;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await bus.Publish(change, timeout.Token);
            PresenceMetrics.Published(change.Status);
            await store.MarkPublishedAsync(change.UserId, change.Version, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Publishing the presence of {UserId} (version {Version}) failed; the sweeper retries", change.UserId, change.Version);
        }
    }
}
