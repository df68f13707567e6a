using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Platform.Contracts.Messaging;
using Platform.Testing;
using SkiaSharp;

namespace Platform.Media.Tests;

public sealed class UploadAndAccessTests(MediaHost host) : IClassFixture<MediaHost>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Upload_Jpeg_ReturnsItsMetadata_AThumbnailAndAPlaceholder_AndAnnouncesMediaReady()
    {
        var alice = host.Client();

        var media = await alice.UploadOkAsync(TestFiles.Jpeg(1600, 1200), "holiday.jpg");

        var id = media.GetProperty("id").GetGuid();
        Assert.Equal("image/jpeg", media.GetProperty("contentType").GetString());
        Assert.Equal(1600, media.GetProperty("width").GetInt32());
        Assert.Equal(1200, media.GetProperty("height").GetInt32());
        Assert.True(media.GetProperty("size").GetInt64() > 0);
        Assert.Equal($"/api/v1/media/{id}/thumbnail", media.GetProperty("thumbnailUrl").GetString());
        Assert.Equal(28, media.GetProperty("blurHash").GetString()!.Length);

        foreach (var (size, longest) in new[] { ("small", 320), ("large", 1280) })
        {
            var thumbnail = await alice.DownloadAsync($"/api/v1/media/{id}/thumbnail?size={size}");
            Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
            Assert.Equal("image/webp", thumbnail.Content.Headers.ContentType?.MediaType);
            using var decoded = SKBitmap.Decode(await thumbnail.Content.ReadAsByteArrayAsync());
            Assert.Equal(longest, Math.Max(decoded.Width, decoded.Height));
        }

        var ready = await Eventually.Returns(() => host.Bus.NextAsync(Soon), m => m.MediaId == id, Soon, "MediaReady for the upload");
        Assert.Equal(alice.UserId, ready.OwnerId);
        Assert.Equal(1600, ready.Width);
    }

    [Fact]
    public async Task Download_ByTheUploader_RedirectsToASignedUrl_ServedWithSafeHeaders()
    {
        var alice = host.Client();
        var bytes = TestFiles.Jpeg(300, 200);
        var id = (await alice.UploadOkAsync(bytes, "photo.jpg")).GetProperty("id").GetGuid();

        var redirect = await alice.Http.GetAsync($"/api/v1/media/{id}");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.StartsWith($"/api/v1/media/content/{id}/original?expires=", redirect.Headers.Location!.OriginalString);

        var download = await alice.Anonymous.GetAsync(redirect.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("image/jpeg", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("default-src 'none'", download.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("inline", download.Content.Headers.ContentDisposition?.DispositionType);
        using var decoded = SKBitmap.Decode(await download.Content.ReadAsByteArrayAsync());
        Assert.Equal((300, 200), (decoded.Width, decoded.Height));
    }

    [Fact]
    public async Task AttachedFile_IsReadByMembers_NotByOthers_AndNotByMembersWhoLeft()
    {
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var conversation = Guid.CreateVersion7();
        var id = (await alice.UploadOkAsync(TestFiles.Jpeg(64, 64), "a.jpg")).GetProperty("id").GetGuid();

        // Before it is attached anywhere, only the uploader reads it; the others cannot tell it exists.
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync($"/api/v1/media/{id}")).StatusCode);

        await host.CreateConversationAsync(conversation, alice.UserId, bob.UserId);
        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, alice.UserId,
            new { id = Guid.CreateVersion7(), senderId = alice.UserId, text = "", attachments = new[] { new { id } }, urls = Array.Empty<string>() });

        var bobs = await Eventually.Returns(() => bob.DownloadAsync($"/api/v1/media/{id}"), r => r.StatusCode == HttpStatusCode.OK, Soon, "a member reads the attachment");
        Assert.Equal("image/jpeg", bobs.Content.Headers.ContentType?.MediaType);
        var carols = await carol.Http.GetAsync($"/api/v1/media/{id}");
        Assert.Equal(HttpStatusCode.NotFound, carols.StatusCode);
        Assert.Equal("application/problem+json", carols.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await carol.Http.GetAsync($"/api/v1/media/{id}/details")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await carol.Http.GetAsync($"/api/v1/media/{id}/thumbnail")).StatusCode);

        await host.PublishAsync(conversation, ConversationEventTypes.MemberLeft, bob.UserId, new { userId = bob.UserId, removedBy = bob.UserId });
        await Eventually.Returns(() => bob.Http.GetAsync($"/api/v1/media/{id}"), r => r.StatusCode == HttpStatusCode.NotFound, Soon, "a member who left reads it no more");
        await host.PublishAsync(conversation, ConversationEventTypes.MemberJoined, alice.UserId, new { userId = carol.UserId, role = "member", addedBy = alice.UserId });
        await Eventually.Returns(() => carol.Http.GetAsync($"/api/v1/media/{id}"), r => r.StatusCode == HttpStatusCode.Redirect, Soon, "a new member reads it");
    }

    [Fact]
    public async Task AttachingSomeoneElsesFile_GivesNobodyAccess()
    {
        var alice = host.Client();
        var mallory = host.Client();
        var conversation = Guid.CreateVersion7();
        var id = (await alice.UploadOkAsync(TestFiles.Jpeg(64, 64), "private.jpg")).GetProperty("id").GetGuid();
        await host.CreateConversationAsync(conversation, mallory.UserId);
        var messageId = Guid.CreateVersion7();
        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, mallory.UserId,
            new { id = messageId, senderId = mallory.UserId, text = "", attachments = new[] { new { id } } });
        // A second message from mallory with his own file shows the event above was consumed.
        var own = (await mallory.UploadOkAsync(TestFiles.Jpeg(65, 65), "own.jpg")).GetProperty("id").GetGuid();
        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, mallory.UserId,
            new { id = Guid.CreateVersion7(), senderId = mallory.UserId, text = "", attachments = new[] { new { id = own } } });
        var viewer = host.Client();
        await host.PublishAsync(conversation, ConversationEventTypes.MemberJoined, mallory.UserId, new { userId = viewer.UserId });
        await Eventually.Returns(() => viewer.Http.GetAsync($"/api/v1/media/{own}"), r => r.StatusCode == HttpStatusCode.Redirect, Soon, "the events were consumed");

        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Http.GetAsync($"/api/v1/media/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.Http.GetAsync($"/api/v1/media/{id}")).StatusCode);
    }

    [Fact]
    public async Task DeletedMessage_DeletesItsFiles_AndTheirStoredBytes()
    {
        var alice = host.Client();
        var conversation = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        var media = await alice.UploadOkAsync(TestFiles.Jpeg(333, 222, new SKColor(1, 2, 3)), "gone.jpg");
        var id = media.GetProperty("id").GetGuid();
        var details = await MediaClient.Json(await alice.Http.GetAsync($"/api/v1/media/{id}/details"), 200);
        var signed = details.GetProperty("download").GetProperty("url").GetString()!;
        var blobsBefore = host.StoredBlobs().Count;
        await host.CreateConversationAsync(conversation, alice.UserId);
        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, alice.UserId,
            new { id = messageId, senderId = alice.UserId, text = "", attachments = new[] { new { id } } });

        await host.PublishAsync(conversation, ConversationEventTypes.MessageDeleted, alice.UserId, new { messageId, reason = "retention" });

        await Eventually.Returns(() => alice.Http.GetAsync($"/api/v1/media/{id}"), r => r.StatusCode == HttpStatusCode.NotFound, Soon, "the file of a deleted message is gone");
        Assert.Equal(HttpStatusCode.NotFound, (await alice.Anonymous.GetAsync(signed)).StatusCode);
        // The main file and both thumbnails; the blobs go right after the records.
        await Eventually.Returns(() => Task.FromResult(host.StoredBlobs().Count), count => count == blobsBefore - 3, Soon, "the stored bytes are deleted");
    }

    [Fact]
    public async Task MessageDeletedDeliveredBeforeItsPosting_StillDeletesTheFiles()
    {
        var alice = host.Client();
        var conversation = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        var id = (await alice.UploadOkAsync(TestFiles.Jpeg(90, 90, new SKColor(9, 9, 9)), "late.jpg")).GetProperty("id").GetGuid();
        await host.CreateConversationAsync(conversation, alice.UserId);

        await host.PublishAsync(conversation, ConversationEventTypes.MessageDeleted, alice.UserId, new { messageId, reason = "deleted" });
        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, alice.UserId,
            new { id = messageId, senderId = alice.UserId, text = "", attachments = new[] { new { id } } });

        await Eventually.Returns(() => alice.Http.GetAsync($"/api/v1/media/{id}"), r => r.StatusCode == HttpStatusCode.NotFound, Soon, "the file is deleted");
    }

    [Fact]
    public async Task SignedUrl_WorksUntilItExpires_AndAForgedOneNever()
    {
        var alice = host.Client();
        var id = (await alice.UploadOkAsync(TestFiles.Pdf("expiry"), "doc.pdf")).GetProperty("id").GetGuid();
        var other = (await alice.UploadOkAsync(TestFiles.Pdf("other"), "other.pdf")).GetProperty("id").GetGuid();
        var url = (await MediaClient.Json(await alice.Http.GetAsync($"/api/v1/media/{id}/details"), 200)).GetProperty("download").GetProperty("url").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await alice.Anonymous.GetAsync(url)).StatusCode);
        var forged = url[..^4] + (url[^4] == 'A' ? "B" : "A") + url[^3..];
        await AssertProblem(await alice.Anonymous.GetAsync(forged), HttpStatusCode.Forbidden, "Invalid signature");
        await AssertProblem(await alice.Anonymous.GetAsync(url.Replace(id.ToString(), other.ToString())), HttpStatusCode.Forbidden, "Invalid signature");
        await AssertProblem(await alice.Anonymous.GetAsync(url.Replace("/original?", "/small?")), HttpStatusCode.Forbidden, "Invalid signature");
        var later = url.Split("expires=")[1].Split('&')[0];
        await AssertProblem(await alice.Anonymous.GetAsync(url.Replace(later, (long.Parse(later) + 3600).ToString())), HttpStatusCode.Forbidden, "Invalid signature");
        await AssertProblem(await alice.Anonymous.GetAsync($"/api/v1/media/content/{id}/original"), HttpStatusCode.Forbidden, "Invalid signature");

        host.Clock.Advance(TimeSpan.FromMinutes(6));
        await AssertProblem(await alice.Anonymous.GetAsync(url), HttpStatusCode.Forbidden, "Link expired");
    }

    [Fact]
    public async Task Documents_AreServedAsDownloads_WithRanges()
    {
        var alice = host.Client();
        var pdf = TestFiles.Pdf("ranges");
        var media = await alice.UploadOkAsync(pdf, "report.pdf");
        Assert.Equal("application/pdf", media.GetProperty("contentType").GetString());
        Assert.Equal(JsonValueKindNull, media.GetProperty("thumbnailUrl").ValueKind);
        var id = media.GetProperty("id").GetGuid();

        var whole = await alice.DownloadAsync($"/api/v1/media/{id}");
        Assert.Equal("attachment", whole.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("report.pdf", whole.Content.Headers.ContentDisposition?.FileNameStar ?? whole.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.Equal(pdf, await whole.Content.ReadAsByteArrayAsync());

        var part = await alice.DownloadAsync($"/api/v1/media/{id}", r => r.Headers.Range = new RangeHeaderValue(5, 14));
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(pdf[5..15], await part.Content.ReadAsByteArrayAsync());
        Assert.Equal(pdf.Length, part.Content.Headers.ContentRange?.Length);
    }

    [Fact]
    public async Task IdenticalUploads_AreStoredOnce_ButAreSeparateFiles()
    {
        var alice = host.Client();
        var bob = host.Client();
        var bytes = TestFiles.Jpeg(500, 500, new SKColor(200, 10, 10));
        var first = await alice.UploadOkAsync(bytes, "same.jpg");
        var blobs = host.StoredBlobs().Count;

        var second = await bob.UploadOkAsync(bytes, "same-again.jpg");

        Assert.NotEqual(first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid());
        Assert.Equal(first.GetProperty("size").GetInt64(), second.GetProperty("size").GetInt64());
        Assert.Equal(blobs, host.StoredBlobs().Count);
        // Each is its uploader's: the other still cannot read it.
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync($"/api/v1/media/{first.GetProperty("id").GetGuid()}")).StatusCode);
        // Deleting one keeps the bytes the other uses.
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/media/{first.GetProperty("id").GetGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bob.DownloadAsync($"/api/v1/media/{second.GetProperty("id").GetGuid()}")).StatusCode);
    }

    [Fact]
    public async Task IdenticalUploads_WhileTheFirstIsDeleted_AllKeepTheirBytes()
    {
        var alice = host.Client();
        var bob = host.Client();
        for (var round = 0; round < 5; round++)
        {
            var bytes = TestFiles.Pdf($"race {round} {Guid.NewGuid()}");
            var first = (await alice.UploadOkAsync(bytes, "race.pdf")).GetProperty("id").GetGuid();

            var delete = alice.Http.DeleteAsync($"/api/v1/media/{first}");
            var uploads = Enumerable.Range(0, 4).Select(_ => bob.UploadOkAsync(bytes, "race.pdf")).ToList();
            Assert.Equal(HttpStatusCode.NoContent, (await delete).StatusCode);

            foreach (var upload in uploads)
            {
                var download = await bob.DownloadAsync($"/api/v1/media/{(await upload).GetProperty("id").GetGuid()}");
                Assert.Equal(HttpStatusCode.OK, download.StatusCode);
                Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
            }
        }
    }

    [Fact]
    public async Task ResumableUpload_InChunks_SurvivesAWrongOffset_AndBecomesAFile()
    {
        var alice = host.Client();
        var bytes = TestFiles.Jpeg(1200, 900, new SKColor(5, 200, 90));
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "big.jpg", length = bytes.Length }, 201);
        var path = $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}";
        var chunk = bytes.Length / 3 + 1;

        var first = await Patch(alice, path, 0, bytes[..chunk]);
        Assert.Equal(chunk, (await MediaClient.Json(first, 200)).GetProperty("offset").GetInt64());
        await MediaClient.Json(await Patch(alice, path, 0, bytes[..chunk]), 409);
        Assert.Equal(chunk, (await MediaClient.Json(await alice.Http.GetAsync(path), 200)).GetProperty("offset").GetInt64());
        await MediaClient.Json(await Patch(alice, path, chunk, bytes[chunk..(2 * chunk)]), 200);
        var done = await MediaClient.Json(await Patch(alice, path, 2 * chunk, bytes[(2 * chunk)..]), 201);

        Assert.Equal(1200, done.GetProperty("width").GetInt32());
        // A client whose connection dropped during the last chunk learns the outcome.
        var finished = await MediaClient.Json(await alice.Http.GetAsync(path), 200);
        Assert.Equal(("ready", done.GetProperty("id").GetGuid()), (finished.GetProperty("status").GetString(), finished.GetProperty("mediaId").GetGuid()));
        await MediaClient.Json(await Patch(alice, path, bytes.Length, [1]), 409);
        Assert.Empty(host.StagedFiles());
        var download = await alice.DownloadAsync($"/api/v1/media/{done.GetProperty("id").GetGuid()}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
    }

    [Fact]
    public async Task ResumableUpload_OfARefusedType_IsStoppedAtItsFirstChunk()
    {
        var alice = host.Client();
        var bytes = new byte[64 * 1024];
        "MZ"u8.CopyTo(bytes);
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "setup.exe", length = bytes.Length }, 201);
        var path = $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}";

        await MediaClient.Json(await Patch(alice, path, 0, bytes[..8192]), 415);

        var failed = await MediaClient.Json(await alice.Http.GetAsync(path), 200);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Contains("not of a known type", failed.GetProperty("failureReason").GetString());
        Assert.Empty(host.StagedFiles());
    }

    internal static Task<HttpResponseMessage> Patch(MediaClient client, string path, long offset, byte[] chunk)
    {
        var content = new ByteArrayContent(chunk);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = content };
        request.Headers.Add("Upload-Offset", offset.ToString());
        return client.Http.SendAsync(request);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    internal static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string title)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(title, System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("title").GetString());
    }
}

public sealed class ResumableEdgeTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Fact]
    public async Task ResumableUpload_ChunkPastTheDeclaredLength_Is400_AndTheUploadGoesOnFromItsOffset()
    {
        var alice = host.Client();
        var bytes = TestFiles.Pdf(new string('p', 20_000));
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "r.pdf", length = bytes.Length }, 201);
        var path = $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}";

        await MediaClient.Json(await Send(alice, path, 0, [.. bytes, .. new byte[10]]), 400);
        Assert.Equal(0, (await MediaClient.Json(await alice.Http.GetAsync(path), 200)).GetProperty("offset").GetInt64());
        var done = await MediaClient.Json(await Send(alice, path, 0, bytes), 201);

        Assert.Equal("application/pdf", done.GetProperty("contentType").GetString());
        Assert.Equal(bytes, await (await alice.DownloadAsync($"/api/v1/media/{done.GetProperty("id").GetGuid()}")).Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ResumableUpload_OfAnotherUser_IsNotFound()
    {
        var alice = host.Client();
        var mallory = host.Client();
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { length = 100 }, 201);
        var path = $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}";

        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Http.GetAsync(path)).StatusCode);
        await MediaClient.Json(await Send(mallory, path, 0, new byte[100]), 404);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Http.DeleteAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync(path)).StatusCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(200_000_000)]
    public async Task ResumableUpload_WithABadLength_IsRefused(long length)
    {
        var alice = host.Client();

        var response = await alice.Http.PostAsJsonAsync("/api/v1/media/uploads", new { length });

        Assert.Equal(length > 0 ? HttpStatusCode.RequestEntityTooLarge : HttpStatusCode.BadRequest, response.StatusCode);
    }

    private static Task<HttpResponseMessage> Send(MediaClient client, string path, long offset, byte[] chunk)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = new ByteArrayContent(chunk) };
        request.Headers.Add("Upload-Offset", offset.ToString());
        return client.Http.SendAsync(request);
    }
}
