using Marten;
using Platform.Media.Domain;
using Platform.Media.Storage;

namespace Platform.Media.Features;

/// <summary>Who may read a file, and how files go away.</summary>
public sealed class MediaAccess(IBlobStore blobs, BlobLocks locks, ILogger<MediaAccess> logger)
{
    /// <summary>The uploader, and active members of any conversation the file was attached to in a message.</summary>
    public static async Task<bool> CanReadAsync(IQuerySession session, MediaItem item, Guid userId, CancellationToken cancellationToken)
    {
        if (item.OwnerId == userId)
            return true;
        var conversations = await session.Query<AttachmentLink>().Where(l => l.MediaId == item.Id).Select(l => l.ConversationId).ToListAsync(cancellationToken);
        if (conversations.Count == 0)
            return false;
        var keys = conversations.Distinct().Select(c => ConversationMember.KeyOf(c, userId)).ToArray();
        var members = await session.LoadManyAsync<ConversationMember>(cancellationToken, keys);
        return members.Any(m => m.Active);
    }

    /// <summary>Deletes the files, their links, their announcements not yet published and every blob no other file still uses.</summary>
    public async Task DeleteAsync(IDocumentSession session, IReadOnlyList<MediaItem> items, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
            return;
        var ids = items.Select(i => i.Id).ToArray();
        foreach (var item in items)
            session.Delete(item);
        session.DeleteWhere<AttachmentLink>(l => l.MediaId.IsOneOf(ids));
        // An announcement still waiting for the broker goes with its file.
        session.DeleteWhere<OutboxEntry>(e => e.Message.MediaId.IsOneOf(ids));
        await session.SaveChangesAsync(cancellationToken);

        foreach (var key in items.SelectMany(i => i.BlobKeys()).Distinct())
        {
            try
            {
                // Under the key's lock, so an upload of the same bytes either is recorded first (and keeps the blob)
                // or waits and stores the blob again.
                await using var held = await locks.AcquireAsync([key], cancellationToken);
                var stillUsed = await session.Query<MediaItem>()
                    .AnyAsync(m => m.BlobKey == key || m.SmallThumbnailKey == key || m.LargeThumbnailKey == key, cancellationToken);
                if (!stillUsed)
                    await blobs.DeleteAsync(key, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Blob {Key} of deleted media could not be deleted", key);
            }
        }
    }
}
