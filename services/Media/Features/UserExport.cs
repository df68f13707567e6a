using Marten;
using Platform.Media.Domain;
using Platform.Media.Storage;
using Platform.ServiceDefaults;

namespace Platform.Media.Features;

/// <summary>
/// Media's part of the caller's data export (Identity asks with the user's own token; not routed by the Gateway):
/// <c>GET /internal/v1/export</c> lists the files the user uploaded, <c>GET /internal/v1/export/files/{id}</c> gives one's
/// bytes (only the uploader's own files; 404 otherwise).
/// </summary>
public static class UserExport
{
    public static void MapUserExport(this WebApplication app)
    {
        app.MapGet("/internal/v1/export", ListAsync).RequireAuthorization().ExcludeFromDescription();
        app.MapGet("/internal/v1/export/files/{id:guid}", FileAsync).RequireAuthorization().ExcludeFromDescription();
    }

    private static async Task<IResult> ListAsync(HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var me = http.User.UserId();
        var items = await session.Query<MediaItem>().Where(m => m.OwnerId == me).OrderBy(m => m.CreatedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok(new
        {
            items = items.Select(m => new { m.Id, m.FileName, m.ContentType, m.Size, m.Width, m.Height, m.DurationMs, m.CreatedAt }),
        });
    }

    private static async Task<IResult> FileAsync(Guid id, HttpContext http, IQuerySession session, IBlobStore blobs, CancellationToken cancellationToken)
    {
        var me = http.User.UserId();
        if (await session.LoadAsync<MediaItem>(id, cancellationToken) is not { } item || item.OwnerId != me
            || await blobs.OpenReadAsync(item.BlobKey, cancellationToken) is not { } stream)
            return TypedResults.NotFound();
        return TypedResults.Stream(stream, item.ContentType);
    }
}
