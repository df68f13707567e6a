using System.ComponentModel.DataAnnotations;

namespace Platform.Media;

/// <summary>Uploads, limits, processing and download signing, bound from the <c>Media</c> section.</summary>
public sealed class MediaOptions
{
    public const string Section = "Media";

    /// <summary>The largest file accepted, whatever its type (100 MB).</summary>
    [Range(1, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>Smaller limits per kind (<c>image</c>, <c>video</c>, <c>audio</c>, <c>document</c>) or per content type.</summary>
    public Dictionary<string, long> MaxBytesByType { get; set; } = new()
    {
        ["image"] = 30L * 1024 * 1024,
    };

    /// <summary>Bytes one user may hold in total (10 GB).</summary>
    [Range(1, long.MaxValue)]
    public long UserQuotaBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>
    /// Content types accepted, as sniffed from the bytes; empty means <see cref="DefaultContentTypes"/>. (Configuration
    /// binding appends to an array it finds filled, so the defaults live apart and a configured list replaces them.)
    /// </summary>
    public string[] AllowedContentTypes { get; set; } = [];

    /// <summary>Images, video, audio, PDF, office documents and text. SVG and HTML are not listed: they are active content.</summary>
    public static readonly string[] DefaultContentTypes =
    [
        "image/jpeg", "image/png", "image/gif", "image/webp",
        "video/mp4", "video/quicktime", "video/webm",
        "audio/mpeg", "audio/ogg", "audio/wav", "audio/mp4", "audio/webm", "audio/flac",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/msword", "text/plain",
    ];

    public IReadOnlyList<string> EffectiveContentTypes => AllowedContentTypes.Length > 0 ? AllowedContentTypes : DefaultContentTypes;

    /// <summary>An image whose header declares more pixels than this is refused before any decoding (pixel floods).</summary>
    [Range(1, long.MaxValue)]
    public long MaxImagePixels { get; set; } = 50_000_000;

    /// <summary>Longest side of an accepted image.</summary>
    [Range(1, 100_000)]
    public int MaxImageDimension { get; set; } = 16_384;

    /// <summary>Longest side of the two thumbnails.</summary>
    [Range(16, 4096)]
    public int SmallThumbnail { get; set; } = 320;

    [Range(16, 8192)]
    public int LargeThumbnail { get; set; } = 1280;

    /// <summary>Zip-based documents: the most their entries may expand to, and the largest expansion ratio of one entry.</summary>
    [Range(1, long.MaxValue)]
    public long MaxArchiveExpandedBytes { get; set; } = 512L * 1024 * 1024;

    [Range(1, 100_000)]
    public int MaxArchiveRatio { get; set; } = 200;

    [Range(1, 1_000_000)]
    public int MaxArchiveEntries { get; set; } = 10_000;

    /// <summary>Uploads (and resumable upload chunks) one user may send per minute.</summary>
    [Range(1, 100_000)]
    public int UploadsPerMinute { get; set; } = 120;

    /// <summary>HMAC-SHA256 key of signed download URLs, base64, at least 32 bytes. Shared by every replica.</summary>
    [Required]
    public string SigningKey { get; set; } = "";

    /// <summary>How long a signed download URL works.</summary>
    public TimeSpan SignedUrlLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Where uploads are staged while they arrive (and resumable uploads between chunks).</summary>
    public string StagingPath { get; set; } = Path.Combine(Path.GetTempPath(), "platform-media", "staging");

    /// <summary>A resumable upload session is discarded this long after it started, finished or not.</summary>
    public TimeSpan UploadSessionLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>A resumable upload session that receives no chunk for this long is discarded, with its staged bytes.</summary>
    public TimeSpan UploadSessionIdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Resumable uploads a user may have in progress at once; each reserves its declared length of the quota.</summary>
    public int MaxOpenUploads { get; set; } = 5;

    /// <summary>The ffmpeg and ffprobe executables (found on PATH by default). Video and audio are accepted without them, unprocessed.</summary>
    /// <summary>
    /// Animated GIF and WebP are kept animated (re-encoded by ffmpeg) within these limits; beyond any of them only
    /// the first frame is kept, as a still.
    /// </summary>
    [Range(2, 10_000)]
    public int MaxAnimationFrames { get; set; } = 300;

    [Range(1, long.MaxValue)]
    public long MaxAnimationDurationMs { get; set; } = 60_000;

    /// <summary>Pixels decoded over all frames (frames x width x height): what re-encoding costs in time and memory.</summary>
    [Range(1, long.MaxValue)]
    public long MaxAnimationPixels { get; set; } = 60_000_000;

    public string FfmpegPath { get; set; } = "ffmpeg";

    public string FfprobePath { get; set; } = "ffprobe";

    public TimeSpan FfmpegTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public byte[] SigningKeyBytes() => Convert.FromBase64String(SigningKey);

    internal static bool HasValidKey(MediaOptions options)
    {
        try
        {
            return Convert.FromBase64String(options.SigningKey).Length >= 32;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
