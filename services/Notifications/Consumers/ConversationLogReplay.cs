using Marten;
using Platform.Contracts.Messaging;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Consumers;

/// <summary>
/// Notifications' backfill from Messaging's log, through <see cref="ConversationEventConsumer.ReplayAsync"/>: state is
/// rebuilt, nobody is notified of old messages. The checkpoint is a document in the <c>notifications</c> schema.
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

    public Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken) => consumer.ReplayAsync(e, cancellationToken);
}
