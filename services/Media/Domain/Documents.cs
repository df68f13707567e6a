using Platform.Contracts.Media;

namespace Platform.Media.Domain;

/// <summary>A file is recorded once it is processed (a refused upload leaves no record), so every file is ready.</summary>
public static class MediaStatus
{
    public const string Ready = "ready";
}

/// <summary>One uploaded file: who owns it, what it is and where its bytes and derived files are.</summary>
public sealed record MediaItem
{
    public Guid Id { get; init; }
    public Guid OwnerId { get; init; }
    public string Status { get; init; } = MediaStatus.Ready;
    public string ContentType { get; init; } = "";
    public string Kind { get; init; } = "";
    /// <summary>The name the client gave (checked: no path, no control characters); only ever used in Content-Disposition.</summary>
    public string? FileName { get; init; }
    public long Size { get; init; }
    /// <summary>SHA-256 of the bytes as uploaded: identical uploads reuse the first one's processing and storage.</summary>
    public string OriginalSha256 { get; init; } = "";
    /// <summary>Content address of the stored bytes (the re-encoded image, or the file as uploaded).</summary>
    public string BlobKey { get; init; } = "";
    public string? SmallThumbnailKey { get; init; }
    public string? LargeThumbnailKey { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public long? DurationMs { get; init; }
    public string? BlurHash { get; init; }
    /// <summary>An animated GIF or WebP kept animated (re-encoded within the limits); its thumbnails are stills.</summary>
    public bool Animated { get; init; }
    /// <summary>Audio: peak levels (0-100) of equal slices of the sound, for a voice note's waveform.</summary>
    public IReadOnlyList<int>? Waveform { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public IEnumerable<string> BlobKeys() => new[] { BlobKey, SmallThumbnailKey, LargeThumbnailKey }.Where(k => !string.IsNullOrEmpty(k))!;
}

/// <summary>A file attached to a message: members of the message's conversation may read it.</summary>
public sealed record AttachmentLink
{
    public string Id { get; init; } = "";
    public Guid MediaId { get; init; }
    public Guid ConversationId { get; init; }
    public Guid MessageId { get; init; }

    public static string KeyOf(Guid mediaId, Guid messageId) => $"{mediaId:N}:{messageId:N}";
}

/// <summary>What Media knows of a conversation's membership, from the conversation events.</summary>
public sealed record ConversationMember
{
    public string Id { get; init; } = "";
    public Guid ConversationId { get; init; }
    public Guid UserId { get; init; }
    public bool Active { get; init; }
    /// <summary>The seq of the event that set this state: an older event delivered late changes nothing.</summary>
    public long Seq { get; init; }

    public static string KeyOf(Guid conversationId, Guid userId) => $"{conversationId:N}:{userId:N}";
}

/// <summary>A deleted message, remembered so that its files are deleted even if its posting is delivered after the deletion.</summary>
public sealed record DeletedMessage
{
    public Guid Id { get; init; }
    public DateTimeOffset DeletedAt { get; init; }
}

/// <summary>A resumable upload in progress: its bytes so far are in the staging folder.</summary>
public sealed record UploadSession
{
    public Guid Id { get; init; }
    public Guid OwnerId { get; init; }
    public string? FileName { get; init; }
    public long Length { get; init; }
    public long Offset { get; init; }
    /// <summary><c>receiving</c>, then <c>ready</c> (with <see cref="MediaId"/>) or <c>failed</c> (with <see cref="FailureReason"/>).</summary>
    public string Status { get; init; } = UploadStatus.Receiving;
    public Guid? MediaId { get; init; }
    public string? FailureReason { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
}

public static class UploadStatus
{
    public const string Receiving = "receiving";
    public const string Ready = "ready";
    public const string Failed = "failed";
}

/// <summary>
/// An announcement for the bus (the platform's outbox): stored in the transaction that records its file, published
/// from memory right after the commit, deleted once the broker has confirmed it; what a crash or a broker outage left
/// here the outbox's relay publishes (<c>Storage/MediaOutboxStore.cs</c>).
/// </summary>
public sealed record OutboxEntry
{
    public Guid Id { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public required MediaReady Message { get; init; }
    /// <summary>The upload's trace, which the publish continues.</summary>
    public string? TraceParent { get; init; }
    public string? TraceState { get; init; }
}
