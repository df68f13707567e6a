using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>Files made in code: real images, and the hostile ones (truncated, pixel floods, bombs, polyglots).</summary>
public static class TestFiles
{
    /// <summary>Marker values of the GPS position written into <see cref="JpegWithGps"/>.</summary>
    public static readonly byte[] GpsLatitude = [0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0x0B, 0xAE, 0, 0, 0, 100];

    public static byte[] Jpeg(int width, int height, SKColor? color = null) => Encode(width, height, SKEncodedImageFormat.Jpeg, color);

    public static byte[] Png(int width, int height, SKColor? color = null) => Encode(width, height, SKEncodedImageFormat.Png, color);

    private static byte[] Encode(int width, int height, SKEncodedImageFormat format, SKColor? color)
    {
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(color ?? new SKColor(30, 120, 200));
            using var paint = new SKPaint { Color = SKColors.OrangeRed };
            canvas.DrawCircle(width / 2f, height / 2f, Math.Min(width, height) / 3f, paint);
        }
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A JPEG with an EXIF block holding a GPS latitude (48° 51' 29.9" N), as a phone camera writes it.</summary>
    public static byte[] JpegWithGps(int width = 640, int height = 480)
    {
        var jpeg = Jpeg(width, height);
        var tiff = new List<byte>();
        tiff.AddRange("MM"u8.ToArray());
        tiff.AddRange([0x00, 0x2A, 0, 0, 0, 8]);
        // IFD0: one entry, the GPS IFD pointer (0x8825, LONG) to offset 26.
        tiff.AddRange([0x00, 0x01, 0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
        // GPS IFD: latitude ref "N", latitude as three RATIONALs at offset 56.
        tiff.AddRange([0x00, 0x02]);
        tiff.AddRange([0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, (byte)'N', 0, 0, 0]);
        tiff.AddRange([0x00, 0x02, 0x00, 0x05, 0, 0, 0, 3, 0, 0, 0, 56]);
        tiff.AddRange([0, 0, 0, 0]);
        tiff.AddRange(GpsLatitude);
        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF;
        segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment, 4);
        return jpeg[..2].Concat(segment).Concat(jpeg[2..]).ToArray();
    }

    /// <summary>A PNG whose header declares <paramref name="width"/> x <paramref name="height"/> pixels but carries almost no data.</summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = 2;
        Chunk(output, "IHDR", header);
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
            zlib.Write(new byte[1024 * 1024]);
        Chunk(output, "IDAT", compressed.ToArray());
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(typed);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        output.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A Word document (by its entries) whose body expands from a few kilobytes to <paramref name="expandedBytes"/>.</summary>
    public static byte[] DocxBomb(int expandedBytes = 64 * 1024 * 1024) => Docx(new byte[expandedBytes]);

    public static byte[] Docx(byte[]? body = null)
    {
        var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var types = zip.CreateEntry("[Content_Types].xml").Open())
                types.Write("<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>"u8);
            using var document = zip.CreateEntry("word/document.xml", CompressionLevel.SmallestSize).Open();
            document.Write(body ?? "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"/>"u8.ToArray());
        }
        return output.ToArray();
    }

    public static byte[] PlainZip()
    {
        var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        using (var entry = zip.CreateEntry("readme.txt").Open())
            entry.Write("hello"u8);
        return output.ToArray();
    }

    public static byte[] Pdf(string text = "hello") =>
        Encoding.ASCII.GetBytes($"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n% {text}\ntrailer <</Root 1 0 R>>\n%%EOF\n");
}
