using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Media.Domain;
using Platform.Media.Processing;
using Platform.ServiceDefaults;

namespace Platform.Media.Features;

public sealed record CreateUploadRequest(string? FileName, long? Length);

/// <summary>An upload in progress; once finished, its outcome (the file's id, or why it was refused) until it expires.</summary>
public sealed record UploadSessionDto(Guid Id, long Offset, long Length, DateTimeOffset ExpiresAt, string Status, Guid? MediaId, string? FailureReason);

/// <summary>
/// Resumable uploads for large files and flaky mobile networks, in the manner of tus: create a session with the length,
/// send chunks with <c>Upload-Offset</c> (a chunk that does not start where the last one ended gets 409 and the current
/// offset), ask for the offset after a dropped connection, and the last chunk turns the upload into a file (201).
/// The session remembers the outcome, so a client whose connection dropped during the last chunk learns the file's id,
/// or why it was refused.
/// </summary>
public static class ResumableUpload
{
    public const string OffsetHeader = "Upload-Offset";

    public static void MapResumableUploads(this RouteGroupBuilder group)
    {
        group.MapPost("/uploads", Create).WithName("CreateUpload").RequireRateLimiting(MediaServiceExtensions.UploadPolicy);
        group.MapGet("/uploads/{id:guid}", Get).WithName("GetUpload");
        group.MapPatch("/uploads/{id:guid}", Append).WithName("AppendUpload").DisableAntiforgery().RequireRateLimiting(MediaServiceExtensions.UploadPolicy);
        group.MapDelete("/uploads/{id:guid}", Cancel).WithName("CancelUpload");
    }

    private static async Task<Results<Created<UploadSessionDto>, ProblemHttpResult>> Create(
        CreateUploadRequest request, HttpContext http, IDocumentSession session, MediaIngest ingest, IOptions<MediaOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (request.Length is not > 0)
            return Http.Problem(StatusCodes.Status400BadRequest, "Invalid upload", "length is the file's size in bytes.");
        if (Http.CheckFileName(request.FileName) is { } badName)
            return Http.Problem(badName);
        if (request.Length > options.Value.MaxFileBytes)
            return Http.Problem(MediaRejectedException.TooLarge($"Files may have at most {options.Value.MaxFileBytes} bytes."));
        var now = time.GetUtcNow();
        var open = await session.Query<UploadSession>()
            .CountAsync(u => u.OwnerId == userId && u.Status == UploadStatus.Receiving && u.ExpiresAt >= now, cancellationToken);
        if (open >= options.Value.MaxOpenUploads)
            return Http.Problem(StatusCodes.Status409Conflict, "Too many uploads in progress",
                $"At most {options.Value.MaxOpenUploads} resumable uploads may be in progress at once: finish or cancel one.");
        if (request.Length > await ingest.RemainingQuotaAsync(userId, cancellationToken))
            return Http.Problem(StatusCodes.Status413PayloadTooLarge, "Quota exceeded", "This file would take you over your storage quota.");
        var upload = new UploadSession
        {
            Id = Guid.CreateVersion7(), OwnerId = userId, FileName = request.FileName, Length = request.Length.Value,
            CreatedAt = now, ExpiresAt = ExpiresAt(options.Value, now, now),
        };
        Directory.CreateDirectory(options.Value.StagingPath);
        await File.WriteAllBytesAsync(StagedPath(options.Value, upload.Id), [], cancellationToken);
        session.Store(upload);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"{MediaUrls.Base}/uploads/{upload.Id}", Dto(upload));
    }

    private static async Task<Results<Ok<UploadSessionDto>, ProblemHttpResult>> Get(
        Guid id, HttpContext http, IQuerySession session, TimeProvider time, CancellationToken cancellationToken)
    {
        var upload = await session.LoadAsync<UploadSession>(id, cancellationToken);
        if (upload is null || upload.OwnerId != http.User.UserId() || upload.ExpiresAt < time.GetUtcNow())
            return UploadNotFound();
        http.Response.Headers[OffsetHeader] = upload.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Ok(Dto(upload));
    }

    private static async Task<Results<Ok<UploadSessionDto>, Created<MediaDto>, ProblemHttpResult>> Append(
        Guid id, HttpContext http, IDocumentSession session, MediaIngest ingest, IOptions<MediaOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var upload = await session.LoadAsync<UploadSession>(id, cancellationToken);
        if (upload is null || upload.OwnerId != http.User.UserId() || upload.ExpiresAt < time.GetUtcNow())
            return UploadNotFound();
        if (!long.TryParse(http.Request.Headers[OffsetHeader], out var offset) || offset < 0)
            return Http.Problem(StatusCodes.Status400BadRequest, "Offset required", $"Send the chunk's position in the file as {OffsetHeader}.");
        if (upload.Status != UploadStatus.Receiving)
            return Http.Problem(StatusCodes.Status409Conflict, "Upload finished", $"This upload is {upload.Status}{(upload.FailureReason is null ? "" : ": " + upload.FailureReason)}.");
        if (offset != upload.Offset)
            return Http.Problem(StatusCodes.Status409Conflict, "Offset mismatch", $"The upload has {upload.Offset} bytes; send the chunk that starts there.");

        var staged = StagedPath(settings, id);
        FileStream file;
        try
        {
            // One writer at a time: a second concurrent chunk cannot open the file and gets 409.
            file = new FileStream(staged, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 81920, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            return UploadNotFound();
        }
        catch (IOException)
        {
            return Http.Problem(StatusCodes.Status409Conflict, "Upload busy", "Another chunk of this upload is being received.");
        }
        long written;
        await using (file)
        {
            try
            {
                // Bytes of an earlier chunk that broke off are dropped: the upload goes on from the recorded offset.
                if (file.Length != upload.Offset)
                    file.SetLength(upload.Offset);
                file.Seek(upload.Offset, SeekOrigin.Begin);
                written = await CopyCappedAsync(http.Request.Body, file, upload.Length - upload.Offset, cancellationToken);
            }
            catch (MediaRejectedException rejected)
            {
                return Http.Problem(rejected);
            }
        }
        // Each chunk keeps the session alive for the idle timeout more (never past its lifetime).
        upload = upload with { Offset = upload.Offset + written, ExpiresAt = ExpiresAt(settings, upload.CreatedAt, time.GetUtcNow()) };

        try
        {
            // Refuse a type that is not accepted as soon as its first bytes are here, not after the whole file.
            if (offset < ContentSniffer.HeaderLength && (upload.Offset >= ContentSniffer.HeaderLength || upload.Offset == upload.Length))
            {
                var header = new byte[Math.Min(ContentSniffer.HeaderLength, upload.Offset)];
                await using (var start = File.OpenRead(staged))
                    await start.ReadExactlyAsync(header, cancellationToken);
                var type = ingest.CheckHeader(header);
                if (upload.Length > ingest.LimitFor(type))
                    throw MediaRejectedException.TooLarge($"Files of type {type.ContentType} may have at most {ingest.LimitFor(type)} bytes.");
            }
            if (upload.Offset < upload.Length)
            {
                session.Store(upload);
                await session.SaveChangesAsync(cancellationToken);
                http.Response.Headers[OffsetHeader] = upload.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Ok(Dto(upload));
            }
            var item = await ingest.IngestAsync(upload.OwnerId, upload.FileName, staged, cancellationToken, upload.Id);
            await FinishAsync(session, settings, upload with { Status = UploadStatus.Ready, MediaId = item.Id });
            return TypedResults.Created($"{MediaUrls.Base}/{item.Id}", MediaDto.From(item));
        }
        catch (MediaRejectedException rejected)
        {
            await FinishAsync(session, settings, upload with { Status = UploadStatus.Failed, FailureReason = rejected.Message });
            return Http.Problem(rejected);
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Cancel(
        Guid id, HttpContext http, IDocumentSession session, IOptions<MediaOptions> options, CancellationToken cancellationToken)
    {
        var upload = await session.LoadAsync<UploadSession>(id, cancellationToken);
        if (upload is null || upload.OwnerId != http.User.UserId())
            return UploadNotFound();
        await DiscardAsync(session, options.Value, id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task FinishAsync(IDocumentSession session, MediaOptions options, UploadSession upload)
    {
        // The outcome is kept (until the session expires), not the bytes; recorded even if the client has gone.
        File.Delete(StagedPath(options, upload.Id));
        session.Store(upload);
        await session.SaveChangesAsync(CancellationToken.None);
    }

    public static async Task DiscardAsync(IDocumentSession session, MediaOptions options, Guid id, CancellationToken cancellationToken)
    {
        session.Delete<UploadSession>(id);
        await session.SaveChangesAsync(cancellationToken);
        File.Delete(StagedPath(options, id));
    }

    private static DateTimeOffset ExpiresAt(MediaOptions options, DateTimeOffset createdAt, DateTimeOffset lastActivity)
    {
        var idle = lastActivity + options.UploadSessionIdleTimeout;
        var end = createdAt + options.UploadSessionLifetime;
        return idle < end ? idle : end;
    }

    private static string StagedPath(MediaOptions options, Guid id) => Path.Combine(options.StagingPath, "upload-" + id.ToString("N"));

    private static async Task<long> CopyCappedAsync(Stream body, Stream file, long remaining, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await ReadChunkAsync(body, buffer, cancellationToken)) > 0)
        {
            if (total + read > remaining)
                throw MediaRejectedException.Invalid("The chunk goes past the upload's declared length.");
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            total += read;
        }
        return total;
    }

    private static async Task<int> ReadChunkAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await body.ReadAsync(buffer, cancellationToken);
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw MediaRejectedException.TooLarge("The chunk is larger than the server accepts in one request: send smaller chunks.");
        }
        catch (IOException exception)
        {
            throw MediaRejectedException.Invalid($"The chunk broke off ({exception.Message}); resume from the upload's offset.");
        }
    }

    private static UploadSessionDto Dto(UploadSession upload) =>
        new(upload.Id, upload.Offset, upload.Length, upload.ExpiresAt, upload.Status, upload.MediaId, upload.FailureReason);

    private static ProblemHttpResult UploadNotFound() =>
        Http.Problem(StatusCodes.Status404NotFound, "Upload not found", "There is no such upload in progress.");
}
