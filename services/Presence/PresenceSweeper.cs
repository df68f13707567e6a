using Microsoft.Extensions.Options;
using Platform.Presence.Data;
using Platform.ServiceDefaults;

namespace Platform.Presence;

/// <summary>
/// Makes the transitions that no event announces: instances that went silent, grace periods that ended, statuses
/// that expired, and changes whose publishing failed. Every replica sweeps; the store makes each transition once.
/// </summary>
public sealed class PresenceSweeper(
    PresenceStore store, PresencePublisher publisher, IOptions<PresenceOptions> options, TimeProvider time, ILogger<PresenceSweeper> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeProvider Clock => time;

    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);

    private DateTimeOffset _nextPrune = time.GetUtcNow();

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override async Task RunPassAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SweepAsync(cancellationToken);
            if (time.GetUtcNow() >= _nextPrune)
            {
                await store.PruneAsync(cancellationToken);
                _nextPrune = time.GetUtcNow() + PruneInterval;
            }
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            PresenceMetrics.SweepFailed();
            throw;
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
