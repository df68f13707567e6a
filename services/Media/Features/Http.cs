using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Media.Domain;
using Platform.Media.Processing;

namespace Platform.Media.Features;

/// <summary>The media shape clients code against (ARCHITECTURE.md), plus what a client needs to show it early.</summary>
public sealed record MediaDto(
    Guid Id,
    string ContentType,
    long Size,
    int? Width,
    int? Height,
    long? DurationMs,
    string? ThumbnailUrl,
    string Status,
    string Kind,
    string? FileName,
    string? BlurHash,
    IReadOnlyList<int>? Waveform,
    DateTimeOffset CreatedAt,
    bool Animated = false)
{
    public static MediaDto From(MediaItem m) => new(
        m.Id, m.ContentType, m.Size, m.Width, m.Height, m.DurationMs, m.SmallThumbnailKey is null ? null : MediaUrls.Thumbnail(m.Id),
        m.Status, m.Kind, m.FileName, m.BlurHash, m.Waveform, m.CreatedAt, m.Animated);
}

internal static class Http
{
    public static ProblemHttpResult Problem(MediaRejectedException rejected) =>
        TypedResults.Problem(statusCode: rejected.Status, title: rejected.Title, detail: rejected.Message);

    public static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail);

    public static ProblemHttpResult MediaNotFound() =>
        Problem(StatusCodes.Status404NotFound, "Media not found", "There is no such file, or you may not read it.");

    /// <summary>A client's file name, only ever shown back in Content-Disposition: no paths, no control or format characters.</summary>
    public static MediaRejectedException? CheckFileName(string? name)
    {
        if (name is null)
            return null;
        if (name.Length is 0 or > 255)
            return MediaRejectedException.Invalid("The file name must have 1 to 255 characters.");
        if (name is "." or ".." || name.IndexOfAny(['/', '\\', ':']) >= 0)
            return MediaRejectedException.Invalid("The file name must not contain a path (/, \\, :).");
        foreach (var c in name)
            if (char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
                return MediaRejectedException.Invalid("The file name must not contain control or formatting characters.");
        return null;
    }
}
