using System.IO.Compression;
using System.Security.Cryptography;
using Marten;
using Microsoft.Extensions.Options;
using Platform.Contracts.Media;
using Platform.Media.Domain;
using Platform.Media.Storage;
using Platform.ServiceDefaults;

namespace Platform.Media.Processing;

/// <summary>
/// Turns a staged upload into a stored file: sniff the type, apply the limits, process it by kind, store the bytes
/// content-addressed, record it and announce <see cref="MediaReady"/> (through the outbox, in the same transaction). Anything refused throws
/// <see cref="MediaRejectedException"/> before a byte is stored; the staged file is the caller's to delete.
/// </summary>
public sealed class MediaIngest(
    IDocumentStore store,
    IBlobStore blobs,
    BlobLocks locks,
    ImageProcessor images,
    FfmpegProcessor ffmpeg,
    OutboxDispatcher outbox,
    IOptions<MediaOptions> options,
    TimeProvider time,
    ILogger<MediaIngest> logger)
{
    public const int WaveformBuckets = 64;

    /// <summary>The sniffed type when it is accepted at all; used while bytes still arrive, to stop a refused upload early.</summary>
    public SniffedType CheckHeader(ReadOnlySpan<byte> header)
    {
        var type = ContentSniffer.FromHeader(header) ?? throw MediaRejectedException.Unsupported("The file's content is not of a known type.");
        // Zip-based documents are only known once the whole archive is there.
        if (type.ContentType != "application/zip" && !IsAllowed(type))
            throw MediaRejectedException.Unsupported($"Files of type {type.ContentType} are not accepted.");
        return type;
    }

    /// <summary>The most bytes a file of this type may have.</summary>
    public long LimitFor(SniffedType? type)
    {
        var settings = options.Value;
        var limit = settings.MaxFileBytes;
        if (type is null)
            return limit;
        if (settings.MaxBytesByType.TryGetValue(type.ContentType, out var byType))
            limit = Math.Min(limit, byType);
        else if (settings.MaxBytesByType.TryGetValue(type.Kind.ToString().ToLowerInvariant(), out var byKind))
            limit = Math.Min(limit, byKind);
        return limit;
    }

    /// <summary>Bytes the user may still upload.</summary>
    /// <summary>
    /// What is left of the user's quota: their files, and the declared length of each resumable upload still in
    /// progress (reserved, so staged bytes never exceed the quota), except <paramref name="exceptUpload"/>'s own.
    /// </summary>
    public async Task<long> RemainingQuotaAsync(Guid ownerId, CancellationToken cancellationToken, Guid? exceptUpload = null)
    {
        await using var session = store.QuerySession();
        var used = await session.Query<MediaItem>().Where(m => m.OwnerId == ownerId).SumAsync(m => m.Size, cancellationToken);
        var now = time.GetUtcNow();
        var except = exceptUpload ?? Guid.Empty;
        var reserved = await session.Query<UploadSession>()
            .Where(u => u.OwnerId == ownerId && u.Status == UploadStatus.Receiving && u.ExpiresAt >= now && u.Id != except)
            .SumAsync(u => u.Length, cancellationToken);
        return Math.Max(0, options.Value.UserQuotaBytes - used - reserved);
    }

    public async Task<MediaItem> IngestAsync(Guid ownerId, string? fileName, string stagedPath, CancellationToken cancellationToken, Guid? uploadId = null)
    {
        var size = new FileInfo(stagedPath).Length;
        if (size == 0)
            throw MediaRejectedException.Invalid("The file is empty.");
        var header = new byte[ContentSniffer.HeaderLength];
        int headerLength;
        await using (var file = File.OpenRead(stagedPath))
            headerLength = await file.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken);
        var type = CheckHeader(header.AsSpan(0, headerLength));
        if (type.ContentType == "application/zip")
            type = InspectArchive(stagedPath);
        if (!IsAllowed(type))
            throw MediaRejectedException.Unsupported($"Files of type {type.ContentType} are not accepted.");
        if (size > LimitFor(type))
            throw MediaRejectedException.TooLarge($"Files of type {type.ContentType} may have at most {LimitFor(type)} bytes; this one has {size}.");
        if (size > await RemainingQuotaAsync(ownerId, cancellationToken, uploadId))
            throw new MediaRejectedException(StatusCodes.Status413PayloadTooLarge, "Quota exceeded",
                $"This file would take you over your storage quota of {options.Value.UserQuotaBytes} bytes.");

        var sha = await HashFileAsync(stagedPath, cancellationToken);
        var item = new MediaItem
        {
            Id = Guid.CreateVersion7(),
            OwnerId = ownerId,
            FileName = fileName,
            OriginalSha256 = sha,
            Kind = type.Kind.ToString().ToLowerInvariant(),
            CreatedAt = time.GetUtcNow(),
        };

        await using var session = store.LightweightSession();
        // Only among the uploader's own files: a twin among everyone's would answer in a fraction of the time a new file
        // takes, and so tell anyone whether somebody has stored these bytes. (Identical processed bytes still share a blob.)
        var twin = await session.Query<MediaItem>()
            .Where(m => m.OwnerId == ownerId && m.OriginalSha256 == sha && m.Status == MediaStatus.Ready)
            .FirstOrDefaultAsync(cancellationToken);
        if (twin is not null)
        {
            // Under the blobs' locks the twin is looked at again: if it was deleted meanwhile, this upload is processed anew.
            await using (await locks.AcquireAsync(twin.BlobKeys(), cancellationToken))
            {
                if (await session.LoadAsync<MediaItem>(twin.Id, cancellationToken) is not null && await blobs.ExistsAsync(twin.BlobKey, cancellationToken))
                {
                    item = item with
                    {
                        ContentType = twin.ContentType,
                        Size = twin.Size,
                        BlobKey = twin.BlobKey,
                        SmallThumbnailKey = twin.SmallThumbnailKey,
                        LargeThumbnailKey = twin.LargeThumbnailKey,
                        Width = twin.Width,
                        Height = twin.Height,
                        DurationMs = twin.DurationMs,
                        BlurHash = twin.BlurHash,
                        Waveform = twin.Waveform,
                        Animated = twin.Animated,
                    };
                    await RecordAsync(session, item, cancellationToken);
                    return item;
                }
            }
        }

        var pending = new List<PendingBlob>();
        item = await ProcessAsync(item, type, stagedPath, sha, size, pending, cancellationToken);
        await using (await locks.AcquireAsync(pending.Select(p => p.Key), cancellationToken))
        {
            foreach (var blob in pending)
            {
                await using var content = blob.Open();
                await blobs.PutAsync(blob.Key, content, blob.ContentType, cancellationToken);
            }
            await RecordAsync(session, item, cancellationToken);
        }
        return item;
    }

    /// <summary>Bytes to store once processing has succeeded.</summary>
    private sealed record PendingBlob(string Key, string ContentType, Func<Stream> Open);

    private async Task<MediaItem> ProcessAsync(
        MediaItem item, SniffedType type, string path, string sha, long size, List<PendingBlob> pending, CancellationToken cancellationToken)
    {
        switch (type.Kind)
        {
            case MediaKind.Image when !type.IsActive && await AnimateAsync(item, type, path, pending, cancellationToken) is { } animated:
                return animated;
            case MediaKind.Image when !type.IsActive:
                {
                    var image = await images.ProcessAsync(path, type, cancellationToken);
                    return item with
                    {
                        ContentType = image.ContentType,
                        Size = image.Main.Length,
                        BlobKey = Pending(pending, image.Main, image.ContentType),
                        Width = image.Width,
                        Height = image.Height,
                        BlurHash = image.BlurHash,
                        SmallThumbnailKey = Pending(pending, image.Small, ImageProcessor.ThumbnailContentType),
                        LargeThumbnailKey = Pending(pending, image.Large, ImageProcessor.ThumbnailContentType),
                    };
                }
            case MediaKind.Video or MediaKind.Audio when ffmpeg.Available:
                item = await ProcessAudioVideoAsync(item, type, path, pending, cancellationToken);
                break;
            case MediaKind.Video or MediaKind.Audio:
                logger.LogInformation("ffmpeg is not installed: {ContentType} stored without duration or poster", type.ContentType);
                break;
        }
        pending.Add(new PendingBlob(sha, type.ContentType, () => File.OpenRead(path)));
        return item with { ContentType = item.ContentType.Length > 0 ? item.ContentType : type.ContentType, Size = size, BlobKey = sha };
    }

    /// <summary>
    /// An animated GIF or WebP within the limits (frames, duration, pixels over all frames), re-encoded by ffmpeg from
    /// its decoded frames (which drops metadata and anything appended) and kept animated, with still thumbnails of its
    /// first frame. Null for a still image, an animation over a limit (kept as a still) or without ffmpeg.
    /// </summary>
    private async Task<MediaItem?> AnimateAsync(MediaItem item, SniffedType type, string path, List<PendingBlob> pending, CancellationToken cancellationToken)
    {
        if (type.ContentType is not ("image/gif" or "image/webp"))
            return null;
        var settings = options.Value;
        (int Frames, long DurationMs, int Width, int Height)? animation;
        try
        {
            animation = ImageProcessor.Animation(path, type.ContentType);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return null; // The still path reads the file again and says what is wrong with it.
        }
        if (animation is not { } a)
            return null;
        if (a.Frames > settings.MaxAnimationFrames || a.DurationMs > settings.MaxAnimationDurationMs
            || a.Width > settings.MaxImageDimension || a.Height > settings.MaxImageDimension || (long)a.Width * a.Height > settings.MaxImagePixels
            || (long)a.Frames * a.Width * a.Height > settings.MaxAnimationPixels)
        {
            logger.LogInformation("An animation of {Frames} frames, {DurationMs} ms, {Width} x {Height} is over the limits: kept as a still", a.Frames, a.DurationMs, a.Width, a.Height);
            return null;
        }
        if (!ffmpeg.Available)
        {
            logger.LogInformation("ffmpeg is not installed: the animation is kept as a still");
            return null;
        }
        var folder = Directory.CreateTempSubdirectory("platform-media-animation-").FullName;
        try
        {
            var frames = await images.FramesAsync(path, folder, cancellationToken);
            var format = type.ContentType == "image/gif" ? "gif" : "webp";
            if (await ffmpeg.AnimateAsync(frames, format, folder, cancellationToken) is not { } encoded)
                return null;
            var bytes = await File.ReadAllBytesAsync(encoded, cancellationToken);
            var thumbnails = images.Thumbnails(frames[0].Path);
            return item with
            {
                ContentType = type.ContentType,
                Size = bytes.Length,
                BlobKey = Pending(pending, bytes, type.ContentType),
                Width = a.Width,
                Height = a.Height,
                DurationMs = frames.Sum(f => (long)f.DurationMs),
                Animated = true,
                BlurHash = thumbnails.BlurHash,
                SmallThumbnailKey = Pending(pending, thumbnails.Small, ImageProcessor.ThumbnailContentType),
                LargeThumbnailKey = Pending(pending, thumbnails.Large, ImageProcessor.ThumbnailContentType),
            };
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task<MediaItem> ProcessAudioVideoAsync(
        MediaItem item, SniffedType type, string path, List<PendingBlob> pending, CancellationToken cancellationToken)
    {
        var probe = await ffmpeg.ProbeAsync(path, cancellationToken);
        if (!probe.HasVideo && !probe.HasAudio)
            throw MediaRejectedException.Unprocessable("The file holds neither sound nor pictures.");
        item = item with { DurationMs = probe.DurationMs };
        if (type.Kind == MediaKind.Video && probe.HasVideo)
        {
            if (probe.Width > options.Value.MaxImageDimension || probe.Height > options.Value.MaxImageDimension)
                throw new MediaRejectedException(StatusCodes.Status413PayloadTooLarge, "Video too large", $"The video is {probe.Width} x {probe.Height} pixels.");
            item = item with { Width = probe.Width, Height = probe.Height };
            var poster = await ffmpeg.PosterAsync(path, probe.DurationMs, cancellationToken);
            if (poster is not null)
            {
                try
                {
                    var thumbnails = images.Thumbnails(poster);
                    item = item with
                    {
                        BlurHash = thumbnails.BlurHash,
                        SmallThumbnailKey = Pending(pending, thumbnails.Small, ImageProcessor.ThumbnailContentType),
                        LargeThumbnailKey = Pending(pending, thumbnails.Large, ImageProcessor.ThumbnailContentType),
                    };
                }
                finally
                {
                    File.Delete(poster);
                }
            }
        }
        else if (type.Kind == MediaKind.Video && !probe.HasVideo)
        {
            // A WebM or MP4 with sound only is a voice note recorded by a browser.
            item = item with { Kind = "audio", ContentType = type.ContentType.Replace("video/", "audio/") };
        }
        if (item.Kind == "audio" && probe.HasAudio)
            item = item with { Waveform = await ffmpeg.WaveformAsync(path, probe.DurationMs, WaveformBuckets, cancellationToken) };
        return item;
    }

    private SniffedType InspectArchive(string path)
    {
        var settings = options.Value;
        try
        {
            using var archive = ZipFile.OpenRead(path);
            if (archive.Entries.Count > settings.MaxArchiveEntries)
                throw MediaRejectedException.Invalid($"The archive has more than {settings.MaxArchiveEntries} entries.");
            long expanded = 0;
            foreach (var entry in archive.Entries)
            {
                expanded += entry.Length;
                if (entry.Length > 1024 * 1024 && entry.Length > (long)settings.MaxArchiveRatio * Math.Max(1, entry.CompressedLength))
                    throw MediaRejectedException.Invalid($"The archive entry '{entry.FullName}' expands more than {settings.MaxArchiveRatio} times: a decompression bomb.");
            }
            if (expanded > settings.MaxArchiveExpandedBytes)
                throw MediaRejectedException.Invalid($"The archive expands to more than {settings.MaxArchiveExpandedBytes} bytes: a decompression bomb.");
            return ContentSniffer.RefineArchive(archive) ?? throw MediaRejectedException.Unsupported("Zip archives are accepted only as office documents.");
        }
        catch (InvalidDataException exception)
        {
            throw MediaRejectedException.Invalid($"The archive is corrupt: {exception.Message}");
        }
    }

    private bool IsAllowed(SniffedType type) => options.Value.EffectiveContentTypes.Contains(type.ContentType, StringComparer.OrdinalIgnoreCase);

    private static string Pending(List<PendingBlob> pending, byte[] bytes, string contentType)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes));
        pending.Add(new PendingBlob(key, contentType, () => new MemoryStream(bytes, writable: false)));
        return key;
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }

    // The file's record and its MediaReady commit together (the outbox's entry), and the event is published right after
    // the commit; if the broker is away then, or the process dies first, the outbox's relay publishes it later.
    private async Task RecordAsync(IDocumentSession session, MediaItem item, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var announcement = MediaOutboxStore.Entry(new MediaReady
        {
            MediaId = item.Id,
            OwnerId = item.OwnerId,
            ContentType = item.ContentType,
            Size = item.Size,
            Width = item.Width,
            Height = item.Height,
            DurationMs = item.DurationMs,
            ThumbnailUrl = item.SmallThumbnailKey is null ? null : MediaUrls.Thumbnail(item.Id),
            BlurHash = item.BlurHash,
            Animated = item.Animated,
            ReadyAt = now,
        }, now);
        session.Store(item);
        session.Store(announcement);
        await session.SaveChangesAsync(cancellationToken);
        outbox.Committed([MediaOutboxStore.Item(announcement)]);
    }
}
