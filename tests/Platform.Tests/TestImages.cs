using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Platform.Tests;

/// <summary>PNG files written by hand, so the tests need no imaging library.</summary>
public static class TestImages
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
            c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>An RGB PNG of random pixels: every call gives a different file.</summary>
    public static byte[] RandomPng(int width, int height)
    {
        var rows = new byte[height * (1 + width * 3)];
        Random.Shared.NextBytes(rows);
        for (var y = 0; y < height; y++)
            rows[y * (1 + width * 3)] = 0; // filter type None
        using var pixels = new MemoryStream();
        using (var zlib = new ZLibStream(pixels, CompressionLevel.Fastest, leaveOpen: true))
            zlib.Write(rows);

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bits per channel
        header[9] = 2; // truecolour
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", pixels.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        png.Write(number);
        png.Write(typed);
        var crc = typed.Aggregate(0xFFFFFFFFu, (c, b) => CrcTable[(c ^ b) & 0xFF] ^ (c >> 8)) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(number, crc);
        png.Write(number);
    }
}
