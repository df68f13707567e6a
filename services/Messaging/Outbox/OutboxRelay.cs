using Marten;
using Microsoft.Extensions.Options;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Outbox;

/// <summary>
/// The safety net: publishes outbox entries that the request which wrote them did not publish (the process
/// crashed after commit, or the broker was down). Runs at start and then every <see cref="OutboxOptions.SweepInterval"/>;
/// the normal path never waits for it.
/// </summary>
public sealed class OutboxRelay(IDocumentStore store, OutboxPublisher publisher, IOptions<OutboxOptions> options, TimeProvider time, ILogger<OutboxRelay> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeSpan Interval => options.Value.SweepInterval;

    // The pause is on the real clock (the default): a mechanical interval; only the age of entries is business time.
    protected override Task RunPassAsync(CancellationToken cancellationToken) => SweepAsync(cancellationToken);

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var olderThan = time.GetUtcNow() - options.Value.SweepAge;
        await using var session = store.QuerySession();
        var conversations = await session.Query<OutboxEntry>()
            .Where(entry => entry.CreatedAt < olderThan)
            .Select(entry => entry.ConversationId)
            .Distinct()
            .Take(500)
            .ToListAsync(cancellationToken);
        foreach (var conversationId in conversations)
        {
            var count = await publisher.PublishPendingAsync(conversationId, cancellationToken);
            if (count > 0)
                logger.LogInformation("Outbox relay published {Count} pending events of conversation {ConversationId}", count, conversationId);
        }
    }
}
