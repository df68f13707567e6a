using Microsoft.Extensions.Options;
using Platform.Presence.Data;

namespace Platform.Presence;

/// <summary>
/// Makes the transitions that no event announces: instances that went silent, grace periods that ended, statuses
/// that expired, and changes whose publishing failed. Every replica sweeps; the store makes each transition once.
/// </summary>
public sealed class PresenceSweeper(
    PresenceStore store, PresencePublisher publisher, IOptions<PresenceOptions> options, TimeProvider time, ILogger<PresenceSweeper> logger)
    : BackgroundService
{
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextPrune = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
                if (time.GetUtcNow() >= nextPrune)
                {
                    await store.PruneAsync(stoppingToken);
                    nextPrune = time.GetUtcNow() + PruneInterval;
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                PresenceMetrics.SweepFailed();
                logger.LogWarning(exception, "Presence sweep failed; retrying");
            }
            try
            {
                await Task.Delay(options.Value.SweepInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        await store.DeclareDeadInstancesAsync(cancellationToken);
        IReadOnlyList<Guid> due;
        do
        {
            due = await store.DueUsersAsync(500, cancellationToken);
            foreach (var userId in due)
                await publisher.PublishAsync(await store.EvaluateAsync(userId, cancellationToken), cancellationToken);
        }
        while (due.Count == 500);
        foreach (var change in await store.UnpublishedAsync(TimeSpan.FromSeconds(2), cancellationToken))
            await publisher.PublishAsync(change, cancellationToken);
    }
}
