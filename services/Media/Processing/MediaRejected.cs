namespace Platform.Media.Processing;

/// <summary>An upload refused for what it is (type, size, content); becomes a 4xx problem details response.</summary>
public sealed class MediaRejectedException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public static MediaRejectedException Unsupported(string detail) => new(StatusCodes.Status415UnsupportedMediaType, "Unsupported file type", detail);

    public static MediaRejectedException TooLarge(string detail) => new(StatusCodes.Status413PayloadTooLarge, "File too large", detail);

    public static MediaRejectedException Invalid(string detail) => new(StatusCodes.Status400BadRequest, "Invalid file", detail);

    public static MediaRejectedException Unprocessable(string detail) => new(StatusCodes.Status422UnprocessableEntity, "File cannot be processed", detail);
}
