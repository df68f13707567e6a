using System.Net;
using System.Text;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>The hostile corpus: each file is refused with a 4xx problem (nothing left behind) or neutralised.</summary>
public sealed class HostileUploadTests(MediaHost host) : IClassFixture<MediaHost>
{
    public static TheoryData<string, byte[], string, int> Refused()
    {
        var jpeg = TestFiles.Jpeg(400, 300);
        var png = TestFiles.Png(400, 300);
        var executable = new byte[8192];
        "MZ\x90\0"u8.CopyTo(executable);
        var elf = new byte[8192];
        new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }.CopyTo(elf, 0);
        return new TheoryData<string, byte[], string, int>
        {
            { "an executable named as a photo", executable, "photo.jpg", 415 },
            { "an ELF binary", elf, "image.png", 415 },
            { "HTML named as a photo", "<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"u8.ToArray(), "cat.jpg", 415 },
            { "SVG with a script", "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"u8.ToArray(), "logo.svg", 415 },
            { "a plain zip archive", TestFiles.PlainZip(), "archive.zip", 415 },
            { "a truncated JPEG", jpeg[..(jpeg.Length / 2)], "cut.jpg", 400 },
            { "a truncated PNG", png[..(png.Length / 2)], "cut.png", 400 },
            { "a JPEG header followed by garbage", [0xFF, 0xD8, 0xFF, 0xE0, .. Encoding.ASCII.GetBytes(new string('x', 5000))], "garbage.jpg", 400 },
            { "a PNG declaring 40000 x 40000 pixels", TestFiles.PngDeclaring(40_000, 40_000), "flood.png", 413 },
            { "a PNG declaring 100000 x 1 pixels", TestFiles.PngDeclaring(100_000, 1), "wide.png", 413 },
            { "a zip bomb dressed as a Word document", TestFiles.DocxBomb(), "report.docx", 400 },
            { "an empty file", [], "empty.txt", 400 },
            { "text over the text limit", Encoding.ASCII.GetBytes(new string('a', 150_000)), "long.txt", 413 },
        };
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Upload_OfAHostileFile_IsRefusedWithAProblem_AndLeavesNothingBehind(string what, byte[] bytes, string fileName, int status)
    {
        var alice = host.Client();
        var blobs = host.StoredBlobs().Count;

        var response = await alice.UploadAsync(bytes, fileName, "image/jpeg");

        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{what}: expected {status}, got {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(blobs, host.StoredBlobs().Count);
        Assert.Empty(host.StagedFiles());
        // The service goes on serving others.
        await alice.UploadOkAsync(TestFiles.Jpeg(32, 32, new SKColor((byte)Random.Shared.Next(256), 1, 1)), "fine.jpg");
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("photos/cat.jpg")]
    [InlineData("..\\..\\windows\\win.ini")]
    [InlineData("C:cat.jpg")]
    [InlineData("bell\u0007.jpg")]
    [InlineData("line\nbreak.jpg")]
    [InlineData("cat\u202Egpj.exe")]
    [InlineData("..")]
    public async Task Upload_WithAFileNameCarryingAPathOrControlCharacters_IsRefused(string fileName)
    {
        var alice = host.Client();

        var response = await alice.UploadAsync(TestFiles.Jpeg(40, 40), fileName);

        await UploadAndAccessTests.AssertProblem(response, HttpStatusCode.BadRequest, "Invalid file");
        Assert.Empty(host.StagedFiles());
    }

    [Fact]
    public async Task Upload_OfAPhotoWithGpsInItsExif_StoresItWithoutAnyExif()
    {
        var alice = host.Client();
        var original = TestFiles.JpegWithGps();
        Assert.True(original.AsSpan().IndexOf("Exif\0\0MM"u8) > 0);
        Assert.True(original.AsSpan().IndexOf(TestFiles.GpsLatitude) > 0);

        var media = await alice.UploadOkAsync(original, "gps.jpg");
        var stored = await (await alice.DownloadAsync($"/api/v1/media/{media.GetProperty("id").GetGuid()}")).Content.ReadAsByteArrayAsync();

        Assert.Equal(-1, stored.AsSpan().IndexOf("Exif"u8));
        Assert.Equal(-1, stored.AsSpan().IndexOf(TestFiles.GpsLatitude));
        using var decoded = SKBitmap.Decode(stored);
        Assert.Equal((640, 480), (decoded.Width, decoded.Height));
    }

    [Fact]
    public async Task Upload_OfAPolyglot_ImageWithAScriptAndAnArchiveAppended_IsNeutralisedByReEncoding()
    {
        var alice = host.Client();
        var polyglot = TestFiles.Png(120, 80).Concat("<html><script>alert(document.domain)</script></html>"u8.ToArray()).Concat(TestFiles.PlainZip()).ToArray();

        var media = await alice.UploadOkAsync(polyglot, "innocent.png");
        var response = await alice.DownloadAsync($"/api/v1/media/{media.GetProperty("id").GetGuid()}");
        var stored = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(-1, stored.AsSpan().IndexOf("<script"u8));
        Assert.Equal(-1, stored.AsSpan().IndexOf("PK\x03\x04"u8));
    }

    [Fact]
    public async Task Upload_OfAWordDocument_IsAcceptedByItsContent_AndServedAsADownload()
    {
        var alice = host.Client();

        var media = await alice.UploadOkAsync(TestFiles.Docx(), "notes.bin");
        var response = await alice.DownloadAsync($"/api/v1/media/{media.GetProperty("id").GetGuid()}");

        Assert.Equal("application/vnd.openxmlformats-officedocument.wordprocessingml.document", media.GetProperty("contentType").GetString());
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
    }

    [Fact]
    public async Task Upload_WithoutMultipart_OrWithoutAFile_IsRefused()
    {
        var alice = host.Client();

        var raw = await alice.Http.PostAsync("/api/v1/media", new ByteArrayContent(TestFiles.Jpeg(10, 10)));
        var noFile = await alice.Http.PostAsync("/api/v1/media", new MultipartFormDataContent { { new StringContent("x"), "field" } });

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, raw.StatusCode);
        await UploadAndAccessTests.AssertProblem(noFile, HttpStatusCode.BadRequest, "No file");
    }

    [Fact]
    public async Task Upload_WithoutAToken_Is401()
    {
        var anonymous = host.Factory.CreateClient();

        var response = await anonymous.PostAsync("/api/v1/media", new MultipartFormDataContent { { new ByteArrayContent(TestFiles.Jpeg(10, 10)), "file", "a.jpg" } });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}

public sealed class QuotaHost : MediaHost
{
    protected override void Configure(Platform.Testing.ServiceFactory<Program> factory) =>
        base.Configure(factory.WithSetting("Media:UserQuotaBytes", "200000").WithSetting("Media:MaxFileBytes", "150000"));
}

public sealed class QuotaTests(QuotaHost host) : IClassFixture<QuotaHost>
{
    [Fact]
    public async Task Upload_OverTheFileLimit_OrTheUsersQuota_Is413_AndOthersAreUnaffected()
    {
        var alice = host.Client();
        var bob = host.Client();

        await UploadAndAccessTests.AssertProblem(await alice.UploadAsync(TestFiles.Pdf(new string('x', 160_000)), "huge.pdf"), HttpStatusCode.RequestEntityTooLarge, "File too large");
        await alice.UploadOkAsync(TestFiles.Pdf(new string('a', 120_000)), "first.pdf");
        await UploadAndAccessTests.AssertProblem(await alice.UploadAsync(TestFiles.Pdf(new string('b', 120_000)), "second.pdf"), HttpStatusCode.RequestEntityTooLarge, "Quota exceeded");
        await bob.UploadOkAsync(TestFiles.Pdf(new string('c', 120_000)), "bobs.pdf");
        Assert.Empty(host.StagedFiles());
    }
}

public sealed class MalformedUploadTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Theory]
    [InlineData("no closing boundary", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello world, and then the body just ends")]
    [InlineData("garbage", "this is not multipart at all")]
    [InlineData("endless headers", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Long: {long}\r\n\r\nhi\r\n--b--\r\n")]
    public async Task Upload_OfAMalformedMultipartBody_Is400_AndLeavesNothingBehind(string what, string body)
    {
        var alice = host.Client();
        var content = new StringContent(body.Replace("{long}", new string('x', 40_000)));
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");

        var response = await alice.Http.PostAsync("/api/v1/media", content);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(host.StagedFiles());
    }
}
