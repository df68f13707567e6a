using System.IO.Compression;
using System.Text;
using System.Text.Unicode;

namespace Platform.Media.Processing;

public enum MediaKind { Image, Video, Audio, Document }

public sealed record SniffedType(string ContentType, MediaKind Kind, string Extension)
{
    /// <summary>Types a browser would run (scripts), always served as downloads.</summary>
    public bool IsActive => ContentType is "image/svg+xml" or "text/html" or "application/xhtml+xml" or "text/xml" or "application/xml";
}

/// <summary>
/// The content type from the bytes themselves (magic numbers), never from the file name or the client's header.
/// Zip-based documents are recognised by their entries, read from the central directory without expanding anything.
/// </summary>
public static class ContentSniffer
{
    public const int HeaderLength = 4096;

    /// <summary>From the first bytes only: what the upload claims to be, or null when nothing matches.</summary>
    public static SniffedType? FromHeader(ReadOnlySpan<byte> b)
    {
        if (StartsWith(b, [0xFF, 0xD8, 0xFF]))
            return new("image/jpeg", MediaKind.Image, "jpg");
        if (StartsWith(b, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            return new("image/png", MediaKind.Image, "png");
        if (StartsWith(b, "GIF87a"u8) || StartsWith(b, "GIF89a"u8))
            return new("image/gif", MediaKind.Image, "gif");
        if (b.Length >= 12 && StartsWith(b, "RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8))
            return new("image/webp", MediaKind.Image, "webp");
        if (b.Length >= 12 && StartsWith(b, "RIFF"u8) && b[8..12].SequenceEqual("WAVE"u8))
            return new("audio/wav", MediaKind.Audio, "wav");
        if (b.Length >= 12 && b[4..8].SequenceEqual("ftyp"u8))
        {
            var brand = Encoding.ASCII.GetString(b[8..12]);
            return brand switch
            {
                "qt  " => new("video/quicktime", MediaKind.Video, "mov"),
                "M4A " or "M4B " => new("audio/mp4", MediaKind.Audio, "m4a"),
                "heic" or "heix" or "mif1" or "msf1" or "avif" => new("image/" + (brand == "avif" ? "avif" : "heic"), MediaKind.Image, brand == "avif" ? "avif" : "heic"),
                _ => new("video/mp4", MediaKind.Video, "mp4"),
            };
        }
        if (StartsWith(b, [0x1A, 0x45, 0xDF, 0xA3]))
        {
            // Matroska and WebM share EBML; the doc type names which. Audio-only WebM is told apart when processed.
            var isWebm = b.IndexOf("webm"u8) >= 0;
            return isWebm ? new("video/webm", MediaKind.Video, "webm") : new("video/x-matroska", MediaKind.Video, "mkv");
        }
        if (StartsWith(b, "OggS"u8))
            return new("audio/ogg", MediaKind.Audio, "ogg");
        if (StartsWith(b, "fLaC"u8))
            return new("audio/flac", MediaKind.Audio, "flac");
        if (StartsWith(b, "ID3"u8) || (b.Length >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0 && (b[1] & 0x06) != 0))
            return new("audio/mpeg", MediaKind.Audio, "mp3");
        if (StartsWith(b, "%PDF-"u8))
            return new("application/pdf", MediaKind.Document, "pdf");
        if (StartsWith(b, [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]))
            return new("application/msword", MediaKind.Document, "doc");
        if (StartsWith(b, [0x50, 0x4B, 0x03, 0x04]))
            return new("application/zip", MediaKind.Document, "zip");
        return FromText(b);
    }

    /// <summary>Refines a zip into the office document it is, from its entry names; null when it is none.</summary>
    public static SniffedType? RefineArchive(ZipArchive archive)
    {
        var names = archive.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        if (names.Contains("[Content_Types].xml"))
        {
            if (names.Contains("word/document.xml"))
                return new("application/vnd.openxmlformats-officedocument.wordprocessingml.document", MediaKind.Document, "docx");
            if (names.Contains("xl/workbook.xml"))
                return new("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", MediaKind.Document, "xlsx");
            if (names.Contains("ppt/presentation.xml"))
                return new("application/vnd.openxmlformats-officedocument.presentationml.presentation", MediaKind.Document, "pptx");
        }
        if (archive.GetEntry("mimetype") is { Length: < 200 } mimetype)
        {
            using var reader = new StreamReader(mimetype.Open(), Encoding.ASCII);
            var declared = reader.ReadToEnd().Trim();
            return declared switch
            {
                "application/vnd.oasis.opendocument.text" => new(declared, MediaKind.Document, "odt"),
                "application/vnd.oasis.opendocument.spreadsheet" => new(declared, MediaKind.Document, "ods"),
                "application/vnd.oasis.opendocument.presentation" => new(declared, MediaKind.Document, "odp"),
                _ => null,
            };
        }
        return null;
    }

    private static SniffedType? FromText(ReadOnlySpan<byte> b)
    {
        if (b.Length == 0 || b.IndexOf((byte)0) >= 0)
            return null;
        var text = b;
        if (StartsWith(text, [0xEF, 0xBB, 0xBF]))
            text = text[3..];
        // Cut a possibly split UTF-8 sequence at the end of the header.
        var end = text.Length;
        while (end > 0 && end > text.Length - 4 && (text[end - 1] & 0xC0) == 0x80)
            end--;
        if (end > 0 && text[end - 1] >= 0xC0)
            end--;
        if (!Utf8.IsValid(text[..end]))
            return null;
        var start = Encoding.UTF8.GetString(text[..Math.Min(end, 512)]).TrimStart().ToLowerInvariant();
        if (start.StartsWith("<svg", StringComparison.Ordinal) || (start.StartsWith("<?xml", StringComparison.Ordinal) && start.Contains("<svg", StringComparison.Ordinal)))
            return new("image/svg+xml", MediaKind.Image, "svg");
        if (start.StartsWith("<!doctype html", StringComparison.Ordinal) || start.StartsWith("<html", StringComparison.Ordinal) || start.StartsWith("<script", StringComparison.Ordinal) || start.StartsWith("<head", StringComparison.Ordinal) || start.StartsWith("<body", StringComparison.Ordinal))
            return new("text/html", MediaKind.Document, "html");
        if (start.StartsWith("<?xml", StringComparison.Ordinal))
            return new("application/xml", MediaKind.Document, "xml");
        foreach (var c in Encoding.UTF8.GetString(text[..end]))
            if (char.IsControl(c) && c is not ('\n' or '\r' or '\t' or '\f'))
                return null;
        return new("text/plain", MediaKind.Document, "txt");
    }

    private static bool StartsWith(ReadOnlySpan<byte> b, ReadOnlySpan<byte> prefix) => b.StartsWith(prefix);
}
