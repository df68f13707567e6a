namespace Platform.Contracts.Media;

/// <summary>An upload passed validation and its derived files (thumbnail, dimensions) are ready.</summary>
public sealed record MediaReady
{
    public required Guid MediaId { get; init; }

    public required Guid OwnerId { get; init; }

    public required string ContentType { get; init; }

    public required long Size { get; init; }

    public int? Width { get; init; }

    public int? Height { get; init; }

    public long? DurationMs { get; init; }

    public string? ThumbnailUrl { get; init; }

    /// <summary>A compact placeholder of the picture (https://blurha.sh), for images and videos.</summary>
    public string? BlurHash { get; init; }

    /// <summary>An animated image (GIF, WebP) kept animated; its thumbnail is a still.</summary>
    public bool Animated { get; init; }

    public required DateTimeOffset ReadyAt { get; init; }
}

/// <summary>A link preview was fetched for a URL found in a message.</summary>
public sealed record LinkPreviewReady
{
    public required Guid ConversationId { get; init; }

    public required Guid MessageId { get; init; }

    public required string Url { get; init; }

    public string? Title { get; init; }

    public string? Description { get; init; }

    public string? ImageUrl { get; init; }

    public string? SiteName { get; init; }

    public required DateTimeOffset FetchedAt { get; init; }
}
