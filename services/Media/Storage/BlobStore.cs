namespace Platform.Media.Storage;

/// <summary>
/// Where file bytes live. Keys are content addresses (the SHA-256 of the bytes), so identical files are stored once.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores the bytes under <paramref name="key"/> unless they are already there.</summary>
    Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken);

    /// <summary>A seekable stream over the blob, or null when there is none.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken);
}

public sealed class StorageOptions
{
    public const string Section = "Media:Storage";

    /// <summary><c>filesystem</c> (one machine, or a shared volume) or <c>s3</c> (any S3-compatible object store).</summary>
    public string Provider { get; set; } = "filesystem";

    public string Path { get; set; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "platform-media", "blobs");

    public string? S3ServiceUrl { get; set; }

    public string? S3Region { get; set; }

    public string S3Bucket { get; set; } = "platform-media";

    public string? S3AccessKey { get; set; }

    public string? S3SecretKey { get; set; }

    /// <summary>Path-style addressing, which MinIO and most S3-compatible stores need.</summary>
    public bool S3ForcePathStyle { get; set; } = true;
}
