using Marten;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Outbox;

/// <summary>
/// Messaging's outbox table (Marten documents <see cref="OutboxEntry"/>), keyed by conversation and ordered by seq: a
/// conversation's entries are read back and published in seq order under its advisory lock, whichever replica wrote them.
/// </summary>
public sealed class MessagingOutboxStore(IDocumentStore store) : IOrderedOutboxStore
{
    public async Task<IReadOnlyList<Guid>> KeysPendingSinceAsync(DateTimeOffset olderThan, int limit, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        return await session.Query<OutboxEntry>()
            .Where(entry => entry.CreatedAt < olderThan)
            .Select(entry => entry.ConversationId)
            .Distinct()
            .Take(limit)
            .ToListAsync(cancellationToken);
    }

    public async Task ReadPendingAsync(Guid key, Func<IReadOnlyList<OutboxItem>, Task> publish, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(cancellationToken);
        // One round trip: take the conversation's lock (publishers of it, in every replica, take turns until commit), then
        // (the next statement, so after waiting for it) read what is pending, in seq order.
        var batch = session.CreateBatchQuery();
        var locked = batch.Query<string>("select 'locked' from (select pg_advisory_xact_lock(?)) as locked", LockKey(key));
        var read = batch.Query<OutboxEntry>().Where(entry => entry.ConversationId == key).OrderBy(entry => entry.Seq).Take(1000).ToList();
        await batch.Execute(cancellationToken);
        await locked;
        var pending = await read;
        if (pending.Count > 0)
            await publish(pending.Select(Item).ToList());
        // Nothing written: the commit only ends the transaction and its lock.
        await session.SaveChangesAsync(cancellationToken);
    }

    public async Task MarkPublishedAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var all = ids.ToArray();
        session.DeleteWhere<OutboxEntry>(entry => entry.Id.IsOneOf(all));
        await session.SaveChangesAsync(cancellationToken);
    }

    public static OutboxItem Item(OutboxEntry entry) =>
        new(entry.Id, entry.ConversationId, entry.Seq, entry.Message, entry.TraceParent, entry.TraceState);

    private static long LockKey(Guid conversationId) => BitConverter.ToInt64(conversationId.ToByteArray(), 8);
}
