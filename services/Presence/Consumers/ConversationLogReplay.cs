using Platform.Contracts.Messaging;
using Platform.Presence.Data;
using Platform.ServiceDefaults;

namespace Platform.Presence.Consumers;

/// <summary>
/// Presence's backfill from Messaging's log: every conversation event through <see cref="ActivityConsumer.ApplyAsync"/>
/// (memberships ordered by seq, last-active only forward). The checkpoint is a row of <c>presence.checkpoints</c>.
/// </summary>
public sealed class ConversationLogReplay(PresenceStore store, ActivityConsumer consumer) : IConversationLogReplay
{
    private const string Name = "conversation-log";

    public Task<long> LoadCheckpointAsync(CancellationToken cancellationToken) => store.LoadCheckpointAsync(Name, cancellationToken);

    public Task SaveCheckpointAsync(long position, CancellationToken cancellationToken) => store.SaveCheckpointAsync(Name, position, cancellationToken);

    public Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken) => consumer.ApplyAsync(e, cancellationToken);
}
