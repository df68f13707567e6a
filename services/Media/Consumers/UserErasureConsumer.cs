using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Media.Domain;
using Platform.Media.Storage;

namespace Platform.Media.Consumers;

/// <summary>
/// A deleted account (<see cref="UserDeleted"/>) is erased from Media: every file the user uploaded (its stored bytes and
/// thumbnails, unless another user's file has the same bytes, its record and its attachment links), their unfinished
/// resumable uploads (record and staged bytes) and any announcement of their files still in the outbox. The blobs go
/// before the records, so a failure (the object store away) is retried with the records still there to say what is
/// left; a second delivery finds nothing.
/// </summary>
public sealed class UserErasureConsumer(IDocumentSession session, IBlobStore blobs, BlobLocks locks, MediaOptions options, ILogger<UserErasureConsumer> logger)
    : IConsumer<UserDeleted>
{
    public Task Consume(ConsumeContext<UserDeleted> context) => EraseAsync(context.Message.UserId, context.CancellationToken);

    public async Task EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        var items = await session.Query<MediaItem>().Where(m => m.OwnerId == userId).ToListAsync(cancellationToken);
        foreach (var key in items.SelectMany(i => i.BlobKeys()).Distinct())
        {
            // Under the key's lock, as when a message's files are deleted: an upload of the same bytes by someone else is
            // either recorded first (and keeps the blob) or waits and stores the blob again.
            await using var held = await locks.AcquireAsync([key], cancellationToken);
            var usedByOthers = await session.Query<MediaItem>()
                .AnyAsync(m => m.OwnerId != userId && (m.BlobKey == key || m.SmallThumbnailKey == key || m.LargeThumbnailKey == key), cancellationToken);
            if (!usedByOthers)
                await blobs.DeleteAsync(key, cancellationToken);
        }
        var ids = items.Select(i => i.Id).ToArray();
        if (ids.Length > 0)
            session.DeleteWhere<AttachmentLink>(l => l.MediaId.IsOneOf(ids));
        session.DeleteWhere<MediaItem>(m => m.OwnerId == userId);

        var uploads = await session.Query<UploadSession>().Where(u => u.OwnerId == userId).Select(u => u.Id).ToListAsync(cancellationToken);
        foreach (var upload in uploads)
            File.Delete(Path.Combine(options.StagingPath, "upload-" + upload.ToString("N")));
        session.DeleteWhere<UploadSession>(u => u.OwnerId == userId);
        // Announcements of the user's files still waiting for the broker go with them.
        session.DeleteWhere<OutboxEntry>(e => e.Message.OwnerId == userId);
        await session.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Erased deleted user {UserId}: {Files} files, {Uploads} unfinished uploads", userId, items.Count, uploads.Count);
    }
}
