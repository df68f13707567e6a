using SkiaSharp;

namespace Platform.Media.Processing;

public sealed record ProcessedImage(byte[] Main, string ContentType, int Width, int Height, byte[] Small, byte[] Large, string BlurHash);

/// <summary>
/// Re-encodes images (which drops EXIF, GPS and anything appended to the file) after checking the declared size in the
/// header against the limits, so a pixel flood or decompression bomb is refused before a byte of it is decoded.
/// </summary>
public sealed class ImageProcessor(MediaOptions options)
{
    public const string ThumbnailContentType = "image/webp";

    // Decoding is the costly part (memory as much as CPU): a few at a time keep the service answering others.
    private readonly SemaphoreSlim _decoders = new(Math.Max(1, Environment.ProcessorCount / 2));

    public async Task<ProcessedImage> ProcessAsync(string path, SniffedType type, CancellationToken cancellationToken)
    {
        var (width, height, format) = ReadHeader(path);
        var expected = type.ContentType switch
        {
            "image/jpeg" => SKEncodedImageFormat.Jpeg,
            "image/png" => SKEncodedImageFormat.Png,
            "image/gif" => SKEncodedImageFormat.Gif,
            "image/webp" => SKEncodedImageFormat.Webp,
            _ => throw MediaRejectedException.Unsupported($"{type.ContentType} images are not processed here."),
        };
        if (format != expected)
            throw MediaRejectedException.Invalid($"The file starts like {type.ContentType} but decodes as {format}.");
        if (width > options.MaxImageDimension || height > options.MaxImageDimension || (long)width * height > options.MaxImagePixels)
            throw new MediaRejectedException(StatusCodes.Status413PayloadTooLarge, "Image too large",
                $"The image is {width} x {height} pixels; at most {options.MaxImageDimension} pixels a side and {options.MaxImagePixels} pixels in all are accepted.");

        await _decoders.WaitAsync(cancellationToken);
        try
        {
            return await Task.Run(() => Decode(path, expected), cancellationToken);
        }
        finally
        {
            _decoders.Release();
        }
    }

    /// <summary>An image's animation: its frames and their total duration; null for a still (one frame).</summary>
    public static (int Frames, long DurationMs, int Width, int Height)? Animation(string path, string contentType)
    {
        using var codec = SKCodec.Create(path);
        var expected = contentType == "image/gif" ? SKEncodedImageFormat.Gif : SKEncodedImageFormat.Webp;
        if (codec is null || codec.EncodedFormat != expected || codec.FrameCount < 2)
            return null;
        var duration = codec.FrameInfo.Sum(f => (long)Math.Max(f.Duration, 0));
        return (codec.FrameCount, duration, codec.Info.Width, codec.Info.Height);
    }

    /// <summary>
    /// Every frame of an animated image as a PNG in <paramref name="folder"/> with how long it shows, composed as the
    /// format says (a frame drawn over the one it depends on). The caller checked the limits first.
    /// </summary>
    public async Task<IReadOnlyList<(string Path, int DurationMs)>> FramesAsync(string path, string folder, CancellationToken cancellationToken)
    {
        await _decoders.WaitAsync(cancellationToken);
        try
        {
            return await Task.Run(() =>
            {
                using var codec = SKCodec.Create(path) ?? throw MediaRejectedException.Invalid("The image cannot be read.");
                var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
                var frames = codec.FrameInfo;
                var needed = frames.Select(f => f.RequiredFrame).Where(r => r >= 0).ToHashSet();
                var kept = new Dictionary<int, SKBitmap>();
                var written = new List<(string, int)>();
                try
                {
                    for (var i = 0; i < frames.Length; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var bitmap = new SKBitmap(info);
                        var prior = frames[i].RequiredFrame;
                        if (prior >= 0 && kept.TryGetValue(prior, out var basis))
                            basis.CopyTo(bitmap);
                        else
                        {
                            bitmap.Erase(SKColors.Transparent);
                            prior = -1;
                        }
                        var result = codec.GetPixels(info, bitmap.GetPixels(), new SKCodecOptions(i, prior));
                        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
                        {
                            bitmap.Dispose();
                            throw MediaRejectedException.Invalid($"Frame {i + 1} of the image is corrupt ({result}).");
                        }
                        var file = Path.Combine(folder, $"frame{i:D5}.png");
                        using (var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100))
                        using (var stream = File.Create(file))
                            encoded.SaveTo(stream);
                        // Browsers show frames without a delay (0 or 10 ms) for 100 ms; so does the re-encoded file.
                        written.Add((file, frames[i].Duration <= 10 ? 100 : frames[i].Duration));
                        if (needed.Contains(i))
                            kept[i] = bitmap;
                        else
                            bitmap.Dispose();
                    }
                    return (IReadOnlyList<(string, int)>)written;
                }
                finally
                {
                    foreach (var bitmap in kept.Values)
                        bitmap.Dispose();
                }
            }, cancellationToken);
        }
        finally
        {
            _decoders.Release();
        }
    }

    /// <summary>A frame (a video's poster) made into the two thumbnails and the placeholder.</summary>
    public (byte[] Small, byte[] Large, string BlurHash, int Width, int Height) Thumbnails(string framePath)
    {
        var (width, height, _) = ReadHeader(framePath);
        if (width > options.MaxImageDimension || height > options.MaxImageDimension)
            throw MediaRejectedException.Unprocessable("The poster frame is too large.");
        using var codec = SKCodec.Create(framePath) ?? throw MediaRejectedException.Unprocessable("The poster frame cannot be decoded.");
        using var bitmap = DecodePixels(codec);
        return (Thumbnail(bitmap, options.SmallThumbnail), Thumbnail(bitmap, options.LargeThumbnail), Placeholder(bitmap), bitmap.Width, bitmap.Height);
    }

    private static (int Width, int Height, SKEncodedImageFormat Format) ReadHeader(string path)
    {
        using var codec = SKCodec.Create(path, out var result);
        if (codec is null)
            throw MediaRejectedException.Invalid($"The image cannot be read ({result}): it is corrupt, truncated or not an image.");
        return (codec.Info.Width, codec.Info.Height, codec.EncodedFormat);
    }

    private ProcessedImage Decode(string path, SKEncodedImageFormat format)
    {
        using var codec = SKCodec.Create(path) ?? throw MediaRejectedException.Invalid("The image cannot be read.");
        using var decoded = DecodePixels(codec);
        using var oriented = codec.EncodedOrigin == SKEncodedOrigin.TopLeft ? null : Orient(decoded, codec.EncodedOrigin);
        var bitmap = oriented ?? decoded;
        var (outputFormat, contentType, quality) = format switch
        {
            SKEncodedImageFormat.Jpeg => (SKEncodedImageFormat.Jpeg, "image/jpeg", 88),
            SKEncodedImageFormat.Webp => (SKEncodedImageFormat.Webp, "image/webp", 88),
            // GIF keeps its first frame only; PNG holds it losslessly.
            _ => (SKEncodedImageFormat.Png, "image/png", 100),
        };
        using var encoded = bitmap.Encode(outputFormat, quality) ?? throw MediaRejectedException.Unprocessable("The image could not be re-encoded.");
        return new ProcessedImage(encoded.ToArray(), contentType, bitmap.Width, bitmap.Height,
            Thumbnail(bitmap, options.SmallThumbnail), Thumbnail(bitmap, options.LargeThumbnail), Placeholder(bitmap));
    }

    private static SKBitmap DecodePixels(SKCodec codec)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw MediaRejectedException.Invalid($"The image is truncated or corrupt ({result}).");
        }
        return bitmap;
    }

    private static byte[] Thumbnail(SKBitmap source, int longestSide)
    {
        var scale = Math.Min(1.0, (double)longestSide / Math.Max(source.Width, source.Height));
        var info = new SKImageInfo(Math.Max(1, (int)Math.Round(source.Width * scale)), Math.Max(1, (int)Math.Round(source.Height * scale)), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var resized = source.Resize(info, new SKSamplingOptions(SKCubicResampler.Mitchell));
        using var encoded = resized.Encode(SKEncodedImageFormat.Webp, 80);
        return encoded.ToArray();
    }

    private static string Placeholder(SKBitmap source)
    {
        var scale = 32.0 / Math.Max(source.Width, source.Height);
        var info = new SKImageInfo(Math.Max(1, (int)(source.Width * scale)), Math.Max(1, (int)(source.Height * scale)), SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var small = source.Resize(info, new SKSamplingOptions(SKFilterMode.Linear));
        return BlurHash.Encode(small.GetPixelSpan(), small.Width, small.Height);
    }

    /// <summary>Applies the EXIF orientation to the pixels, since re-encoding drops the tag that carried it.</summary>
    private static SKBitmap Orient(SKBitmap source, SKEncodedOrigin origin)
    {
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (w, h) = swap ? (source.Height, source.Width) : (source.Width, source.Height);
        var rotated = new SKBitmap(new SKImageInfo(w, h, source.ColorType, source.AlphaType));
        using var canvas = new SKCanvas(rotated);
        var matrix = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, w, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, w, -1, 0, h, 0, 0, 1),
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, h, 0, 0, 1),
            _ => SKMatrix.Identity,
        };
        canvas.SetMatrix(matrix);
        canvas.DrawBitmap(source, 0, 0);
        return rotated;
    }
}
