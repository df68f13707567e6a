using System.Diagnostics;
using Marten;
using Platform.Contracts.Media;
using Platform.Media.Domain;
using Platform.ServiceDefaults;

namespace Platform.Media.Storage;

/// <summary>
/// Media's outbox table (<see cref="OutboxEntry"/> documents) for the platform's <see cref="OutboxDispatcher"/>: its
/// announcements need no order among themselves beyond their commits', so they are published from memory and the
/// relay claims what is left (<c>FOR UPDATE SKIP LOCKED</c>, so replicas never take the same rows).
/// </summary>
public sealed class MediaOutboxStore(IDocumentStore store) : IClaimingOutboxStore
{
    /// <summary>Every entry shares one key: no order is kept between them.</summary>
    public static readonly Guid Key = Guid.Empty;

    /// <summary>An entry announcing <paramref name="ready"/>, to store in the transaction that records the file.</summary>
    public static OutboxEntry Entry(MediaReady ready, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(now),
        CreatedAt = now,
        Message = ready,
        TraceParent = Activity.Current?.Id,
        TraceState = Activity.Current?.TraceStateString,
    };

    public static OutboxItem Item(OutboxEntry entry) =>
        new(entry.Id, Key, entry.CreatedAt.UtcTicks, entry.Message, entry.TraceParent, entry.TraceState);

    public async Task<int> SweepAsync(
        DateTimeOffset olderThan, int limit, Func<IReadOnlyList<OutboxItem>, Task<IReadOnlyList<Guid>>> publish, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        // A raw statement does not create the table as a document operation does (a fresh database has none until the
        // first upload): without this every pass failed until then.
        await session.Database.EnsureStorageExistsAsync(typeof(OutboxEntry), cancellationToken);
        await session.BeginTransactionAsync(cancellationToken);
        var claimed = await session.QueryAsync<OutboxEntry>(
            $"select data from {MediaServiceExtensions.Schema}.mt_doc_outbox where created_at < ? order by created_at limit ? for update skip locked",
            cancellationToken, olderThan, limit);
        var published = claimed.Count == 0 ? [] : await publish(claimed.Select(Item).ToList());
        if (published.Count > 0)
        {
            var ids = published.ToArray();
            session.DeleteWhere<OutboxEntry>(entry => entry.Id.IsOneOf(ids));
        }
        // Commits the deletions; the rows not published are released when the session ends (with nothing to delete, it
        // rolls back).
        await session.SaveChangesAsync(cancellationToken);
        return published.Count;
    }

    public async Task MarkPublishedAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var all = ids.ToArray();
        session.DeleteWhere<OutboxEntry>(entry => entry.Id.IsOneOf(all));
        await session.SaveChangesAsync(cancellationToken);
    }
}
