using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Platform.Media.Domain;
using Platform.Media.Storage;
using Platform.ServiceDefaults;

namespace Platform.Media.Features;

public sealed record SignedUrlDto(string Url, DateTimeOffset ExpiresAt);

public sealed record MediaDetailsDto(MediaDto Media, SignedUrlDto Download, SignedUrlDto? SmallThumbnail, SignedUrlDto? LargeThumbnail);

public static class Download
{
    // Raster images, video and audio are shown in place; everything else (documents, anything active) is a download.
    private static readonly string[] InlinePrefixes = ["video/", "audio/"];
    private static readonly string[] InlineImages = ["image/jpeg", "image/png", "image/gif", "image/webp"];

    public static void MapDownload(this RouteGroupBuilder group, RouteGroupBuilder anonymous)
    {
        group.MapGet("/{id:guid}", Redirect).WithName("DownloadMedia");
        group.MapGet("/{id:guid}/thumbnail", Thumbnail).WithName("MediaThumbnail");
        group.MapGet("/{id:guid}/details", Details).WithName("MediaDetails");
        group.MapDelete("/{id:guid}", Delete).WithName("DeleteMedia");
        anonymous.MapGet("/content/{id:guid}/{variant}", Content).WithName("SignedMediaContent").AllowAnonymous();
    }

    /// <summary>A redirect to a short-lived signed URL of the file.</summary>
    private static async Task<Results<RedirectHttpResult, ProblemHttpResult>> Redirect(
        Guid id, HttpContext http, IQuerySession session, UrlSigner signer, CancellationToken cancellationToken)
    {
        if (await ReadableAsync(session, id, http, cancellationToken) is null)
            return Http.MediaNotFound();
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Redirect(signer.Sign(id, Variant.Original).Url);
    }

    private static async Task<Results<RedirectHttpResult, ProblemHttpResult>> Thumbnail(
        Guid id, string? size, HttpContext http, IQuerySession session, UrlSigner signer, CancellationToken cancellationToken)
    {
        var variant = size?.ToLowerInvariant() switch
        {
            null or "small" => Variant.Small,
            "large" => Variant.Large,
            _ => (Variant?)null,
        };
        if (variant is null)
            return Http.Problem(StatusCodes.Status400BadRequest, "Invalid size", "size is small or large.");
        if (await ReadableAsync(session, id, http, cancellationToken) is not { } item)
            return Http.MediaNotFound();
        if (item.SmallThumbnailKey is null)
            return Http.Problem(StatusCodes.Status404NotFound, "No thumbnail", "This file has no thumbnail.");
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Redirect(signer.Sign(id, variant.Value).Url);
    }

    /// <summary>The file's metadata with signed URLs, for clients that fetch them themselves.</summary>
    private static async Task<Results<Ok<MediaDetailsDto>, ProblemHttpResult>> Details(
        Guid id, HttpContext http, IQuerySession session, UrlSigner signer, CancellationToken cancellationToken)
    {
        if (await ReadableAsync(session, id, http, cancellationToken) is not { } item)
            return Http.MediaNotFound();
        SignedUrlDto Signed(Variant variant)
        {
            var (url, expires) = signer.Sign(id, variant);
            return new SignedUrlDto(url, expires);
        }
        return TypedResults.Ok(new MediaDetailsDto(MediaDto.From(item), Signed(Variant.Original),
            item.SmallThumbnailKey is null ? null : Signed(Variant.Small), item.LargeThumbnailKey is null ? null : Signed(Variant.Large)));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        Guid id, HttpContext http, IDocumentSession session, MediaAccess access, CancellationToken cancellationToken)
    {
        var item = await session.LoadAsync<MediaItem>(id, cancellationToken);
        if (item is null || !await MediaAccess.CanReadAsync(session, item, http.User.UserId(), cancellationToken))
            return Http.MediaNotFound();
        if (item.OwnerId != http.User.UserId())
            return Http.Problem(StatusCodes.Status403Forbidden, "Not allowed", "Only the uploader deletes a file.");
        await access.DeleteAsync(session, [item], cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>The bytes, for a valid unexpired signature; ranges are honoured (video and audio seek).</summary>
    private static async Task<IResult> Content(
        Guid id, string variant, string? expires, string? signature, HttpContext http, IQuerySession session, UrlSigner signer,
        IBlobStore blobs, CancellationToken cancellationToken)
    {
        if (!Enum.TryParse<Variant>(variant, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || variant.Any(char.IsDigit))
            return Http.Problem(StatusCodes.Status404NotFound, "Not found", "No such variant.");
        switch (signer.Check(id, parsed, expires, signature))
        {
            case SignatureCheck.Invalid:
                return Http.Problem(StatusCodes.Status403Forbidden, "Invalid signature", "This download link is not valid.");
            case SignatureCheck.Expired:
                return Http.Problem(StatusCodes.Status403Forbidden, "Link expired", "This download link has expired; ask for a new one.");
        }
        var item = await session.LoadAsync<MediaItem>(id, cancellationToken);
        var key = parsed switch
        {
            Variant.Original => item?.BlobKey,
            Variant.Small => item?.SmallThumbnailKey,
            _ => item?.LargeThumbnailKey,
        };
        if (item is null || key is null || await blobs.OpenReadAsync(key, cancellationToken) is not { } stream)
            return Http.MediaNotFound();

        var contentType = parsed == Variant.Original ? item.ContentType : Processing.ImageProcessor.ThumbnailContentType;
        var headers = http.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
        headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        headers.CacheControl = "private, max-age=300";
        var inline = InlineImages.Contains(contentType) || InlinePrefixes.Any(p => contentType.StartsWith(p, StringComparison.Ordinal));
        var disposition = new ContentDispositionHeaderValue(inline ? "inline" : "attachment");
        if (item.FileName is { } name && parsed == Variant.Original)
            disposition.SetHttpFileName(name);
        headers.ContentDisposition = disposition.ToString();
        return TypedResults.Stream(stream, contentType, enableRangeProcessing: true,
            entityTag: new EntityTagHeaderValue($"\"{key[..32]}\""));
    }

    private static async Task<MediaItem?> ReadableAsync(IQuerySession session, Guid id, HttpContext http, CancellationToken cancellationToken)
    {
        var item = await session.LoadAsync<MediaItem>(id, cancellationToken);
        return item is not null && await MediaAccess.CanReadAsync(session, item, http.User.UserId(), cancellationToken) ? item : null;
    }
}
