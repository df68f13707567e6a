using Marten;
using Platform.Contracts.Messaging;
using Platform.ServiceDefaults;

namespace Platform.Media.Consumers;

/// <summary>Where Media's backfill from Messaging's log stands; one document in the <c>media</c> schema.</summary>
public sealed record BackfillCheckpoint
{
    public const string ConversationLog = "conversation-log";

    public string Id { get; init; } = ConversationLog;
    public long Position { get; init; }
}

/// <summary>
/// Media's backfill: each event of the log through the live consumer's own code, without link previews. Idempotent as the
/// live path is: memberships are ordered by seq, attachment links are keyed by (file, message), deletions are remembered.
/// </summary>
public sealed class ConversationLogReplay(IDocumentSession session, ConversationEventConsumer consumer) : IConversationLogReplay
{
    public async Task<long> LoadCheckpointAsync(CancellationToken cancellationToken) =>
        (await session.LoadAsync<BackfillCheckpoint>(BackfillCheckpoint.ConversationLog, cancellationToken))?.Position ?? 0;

    public async Task SaveCheckpointAsync(long position, CancellationToken cancellationToken)
    {
        if (await LoadCheckpointAsync(cancellationToken) >= position)
            return;
        session.Store(new BackfillCheckpoint { Position = position });
        await session.SaveChangesAsync(cancellationToken);
    }

    public Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken) => consumer.ApplyAsync(e, live: false, cancellationToken);
}
