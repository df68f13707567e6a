using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Platform.Media.Processing;
using Platform.ServiceDefaults;

namespace Platform.Media.Features;

public static class Upload
{
    /// <summary>Room for the multipart framing around the file.</summary>
    public const long MultipartOverhead = 1024 * 1024;

    public static void MapUpload(this RouteGroupBuilder group) =>
        group.MapPost("/", Handle).WithName("UploadMedia").DisableAntiforgery().RequireRateLimiting(MediaServiceExtensions.UploadPolicy);

    /// <summary>
    /// Streams the first file part of a multipart body to the staging folder (never whole in memory), refusing it as soon
    /// as its first bytes show a type that is not accepted or it passes its limit, then ingests it.
    /// </summary>
    private static async Task<Results<Created<MediaDto>, ProblemHttpResult>> Handle(
        HttpContext http, MediaIngest ingest, IOptions<MediaOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
            bodyLimit.MaxRequestBodySize = settings.MaxFileBytes + MultipartOverhead;

        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return Http.Problem(StatusCodes.Status415UnsupportedMediaType, "Multipart expected", "Send the file as multipart/form-data with one file part.");
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrWhiteSpace(boundary) || boundary.Length > 200)
            return Http.Problem(StatusCodes.Status400BadRequest, "Invalid multipart body", "The multipart boundary is missing or too long.");

        var userId = http.User.UserId();
        var reader = new MultipartReader(boundary, http.Request.Body) { HeadersLengthLimit = 16 * 1024, HeadersCountLimit = 16 };
        MultipartSection? section;
        ContentDispositionHeaderValue? disposition = null;
        try
        {
            while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
            {
                if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out disposition) && disposition.IsFileDisposition())
                    break;
            }
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException)
        {
            return Http.Problem(BadBody(exception));
        }
        if (section is null || disposition is null)
            return Http.Problem(StatusCodes.Status400BadRequest, "No file", "The multipart body has no file part.");

        var fileName = disposition.FileNameStar.HasValue ? disposition.FileNameStar.Value : HeaderUtilities.RemoveQuotes(disposition.FileName).Value;
        if (string.IsNullOrEmpty(fileName))
            fileName = null;
        if (Http.CheckFileName(fileName) is { } badName)
            return Http.Problem(badName);

        var quota = await ingest.RemainingQuotaAsync(userId, cancellationToken);
        Directory.CreateDirectory(settings.StagingPath);
        var staged = Path.Combine(settings.StagingPath, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                await ReceiveAsync(section.Body, file, ingest, quota, cancellationToken);
            var item = await ingest.IngestAsync(userId, fileName, staged, cancellationToken);
            return TypedResults.Created($"{MediaUrls.Base}/{item.Id}", MediaDto.From(item));
        }
        catch (MediaRejectedException rejected)
        {
            return Http.Problem(rejected);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    /// <summary>Copies the part to the file, checking the type once the header has arrived and the size all along.</summary>
    private static async Task ReceiveAsync(Stream body, Stream file, MediaIngest ingest, long quota, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        var header = new byte[ContentSniffer.HeaderLength];
        var headerLength = 0;
        SniffedType? type = null;
        var limit = Math.Min(ingest.LimitFor(null), quota);
        long total = 0;
        int read;
        while ((read = await ReadAsync(body, buffer, cancellationToken)) > 0)
        {
            if (headerLength < header.Length)
            {
                var take = Math.Min(read, header.Length - headerLength);
                buffer.AsSpan(0, take).CopyTo(header.AsSpan(headerLength));
                headerLength += take;
            }
            if (type is null && headerLength == header.Length)
                (type, limit) = Limit(ingest, header, quota);
            total += read;
            if (total > limit)
                throw limit == quota
                    ? new MediaRejectedException(StatusCodes.Status413PayloadTooLarge, "Quota exceeded", "This file would take you over your storage quota.")
                    : MediaRejectedException.TooLarge($"Files of this type may have at most {limit} bytes.");
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        if (type is null && headerLength > 0)
            Limit(ingest, header.AsSpan(0, headerLength).ToArray(), quota);
    }

    private static async Task<int> ReadAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await body.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException)
        {
            throw BadBody(exception);
        }
    }

    /// <summary>A body that breaks off, is malformed multipart, or passes the server's request limit.</summary>
    private static MediaRejectedException BadBody(Exception exception) => exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }
        ? MediaRejectedException.TooLarge("The request is larger than the largest file accepted.")
        : new MediaRejectedException(StatusCodes.Status400BadRequest, "Invalid multipart body", exception.Message);

    private static (SniffedType, long) Limit(MediaIngest ingest, byte[] header, long quota)
    {
        var type = ingest.CheckHeader(header);
        return (type, Math.Min(ingest.LimitFor(type), quota));
    }
}
