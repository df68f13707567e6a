using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// An explicit follow or unfollow of a thread that Notifications has not been told yet (<see cref="ThreadFollowChanged"/>):
/// stored in the same transaction as the follow itself, deleted once the change is published. One per user and thread
/// (the latest change replaces an earlier one still untold), so the table holds only what is in flight.
/// </summary>
public sealed record UntoldFollowChange
{
    /// <summary>The follow's key (<see cref="ThreadFollow.KeyOf"/>).</summary>
    public string Id { get; init; } = "";
    public Guid ConversationId { get; init; }
    public Guid RootId { get; init; }
    public Guid UserId { get; init; }
    public bool Following { get; init; }
    public DateTimeOffset ChangedAt { get; init; }
    /// <summary>This change's own id: the relay deletes what it published, never a newer change of the same follow.</summary>
    public Guid ChangeId { get; init; } = Guid.CreateVersion7();

    public ThreadFollowChanged Message() => new()
    {
        ConversationId = ConversationId, RootId = RootId, UserId = UserId, Following = Following, ChangedAt = ChangedAt,
    };
}

/// <summary>
/// Tells Notifications of explicit follow changes (<see cref="ThreadFollowChanged"/>), as an outbox does: a change is
/// published right after its commit, and what that did not get out (the broker was away, the process died) is published
/// by this relay every <see cref="OutboxOptions.SweepInterval"/>, once older than <see cref="OutboxOptions.SweepAge"/>.
/// Delivery is at least once and a later change may be published before an earlier one is published again:
/// Notifications applies a change only if it is newer than the last one it applied for that user and thread.
/// </summary>
public sealed class FollowChanges(IDocumentStore store, IBus bus, IOptions<OutboxOptions> options, TimeProvider time, ILogger<FollowChanges> logger)
    : PeriodicJob
{
    private const int BatchSize = 500;

    protected override ILogger Logger => logger;

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override Task RunPassAsync(CancellationToken cancellationToken) => SweepAsync(cancellationToken);

    /// <summary>Publishes a change just committed; a failure leaves it to the relay.</summary>
    public async Task PublishAsync(UntoldFollowChange change, CancellationToken cancellationToken)
    {
        try
        {
            await bus.PublishWithinAsync(change.Message(), cancellationToken);
            await ToldAsync(change, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogInformation(exception, "A thread follow change was not published at once; the relay will publish it");
        }
    }

    /// <summary>Publishes the untold changes older than the sweep age (tests call it directly); returns how many.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow() - options.Value.SweepAge;
        IReadOnlyList<UntoldFollowChange> untold;
        await using (var session = store.QuerySession())
            untold = await session.Query<UntoldFollowChange>().Where(c => c.ChangedAt < before).OrderBy(c => c.ChangedAt).Take(BatchSize)
                .ToListAsync(cancellationToken);
        foreach (var change in untold)
        {
            await bus.PublishWithinAsync(change.Message(), cancellationToken);
            await ToldAsync(change, cancellationToken);
        }
        return untold.Count;
    }

    // Only this change: a newer one of the same user and thread, committed meanwhile, stays untold until it is published.
    private async Task ToldAsync(UntoldFollowChange change, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        session.DeleteWhere<UntoldFollowChange>(c => c.Id == change.Id && c.ChangeId == change.ChangeId);
        await session.SaveChangesAsync(cancellationToken);
    }
}
