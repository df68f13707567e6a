using System.Net;
using System.Net.Http.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Media.Domain;
using Platform.Testing;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>Resumable uploads reserve their length of the quota, are limited in number, and die when left idle.</summary>
public sealed class UploadSessionLimitTests(QuotaHost host) : IClassFixture<QuotaHost>
{
    [Fact]
    public async Task AnUploadInProgress_ReservesItsLengthOfTheQuota_UntilItIsCancelled()
    {
        var alice = host.Client();
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "big.pdf", length = 150_000 }, 201);

        // 150,000 reserved of 200,000: neither a second session nor a direct upload of 120,000 fits.
        await UploadAndAccessTests.AssertProblem(await alice.Http.PostAsJsonAsync("/api/v1/media/uploads", new { length = 120_000 }), HttpStatusCode.RequestEntityTooLarge, "Quota exceeded");
        await UploadAndAccessTests.AssertProblem(await alice.UploadAsync(TestFiles.Pdf(new string('a', 120_000)), "a.pdf"), HttpStatusCode.RequestEntityTooLarge, "Quota exceeded");

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}")).StatusCode);
        await alice.UploadOkAsync(TestFiles.Pdf(new string('b', 120_000)), "b.pdf");
    }

    [Fact]
    public async Task AnUploadsOwnReservation_DoesNotKeepItFromFinishing()
    {
        var alice = host.Client();
        var bytes = TestFiles.Pdf(new string('c', 140_000));
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "c.pdf", length = bytes.Length }, 201);

        var done = await MediaClient.Json(await UploadAndAccessTests.Patch(alice, $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}", 0, bytes), 201);

        Assert.Equal(bytes.Length, done.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task AtMostFiveUploadsInProgress_PerUser()
    {
        var alice = host.Client();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
            ids.Add((await alice.PostJsonAsync("/api/v1/media/uploads", new { length = 100 }, 201)).GetProperty("id").GetGuid());

        await UploadAndAccessTests.AssertProblem(await alice.Http.PostAsJsonAsync("/api/v1/media/uploads", new { length = 100 }), HttpStatusCode.Conflict, "Too many uploads in progress");
        await host.Client().PostJsonAsync("/api/v1/media/uploads", new { length = 100 }, 201);

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/media/uploads/{ids[0]}")).StatusCode);
        await alice.PostJsonAsync("/api/v1/media/uploads", new { length = 100 }, 201);
        foreach (var id in ids.Skip(1))
            await alice.Http.DeleteAsync($"/api/v1/media/uploads/{id}");
    }

    [Fact]
    public async Task AnUploadLeftIdle_IsDiscardedWithItsBytes_AndFreesItsReservation()
    {
        var alice = host.Client();
        var session = await alice.PostJsonAsync("/api/v1/media/uploads", new { fileName = "idle.pdf", length = 150_000 }, 201);
        var path = $"/api/v1/media/uploads/{session.GetProperty("id").GetGuid()}";
        await MediaClient.Json(await UploadAndAccessTests.Patch(alice, path, 0, TestFiles.Pdf(new string('d', 200))[..100]), 200);

        // A chunk keeps it alive for the idle timeout (15 min) more.
        host.Clock.Advance(TimeSpan.FromMinutes(10));
        await MediaClient.Json(await alice.Http.GetAsync(path), 200);
        host.Clock.Advance(TimeSpan.FromMinutes(6));

        Assert.Equal(HttpStatusCode.NotFound, (await alice.Http.GetAsync(path)).StatusCode);
        await alice.UploadOkAsync(TestFiles.Pdf(new string('e', 120_000)), "e.pdf");
        // The sweeper runs every minute of the service's clock.
        await Eventually.Returns(() =>
        {
            host.Clock.Advance(TimeSpan.FromMinutes(1));
            return Task.FromResult(host.StagedFiles().Count);
        }, staged => staged == 0, TimeSpan.FromSeconds(20), "the sweeper discards the idle upload's staged bytes");
    }
}

/// <summary>Deduplication never tells one user whether another stored the same bytes.</summary>
public sealed class DeduplicationTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Fact]
    public async Task AnIdenticalUpload_ReusesOnlyTheUploadersOwnFile_NeverAnotherUsers()
    {
        var alice = host.Client();
        var bob = host.Client();
        var bytes = TestFiles.Jpeg(320, 240, new SKColor(20, 120, 220));
        var first = (await alice.UploadOkAsync(bytes, "a.jpg")).GetProperty("id").GetGuid();
        // Mark Alice's stored file, so a copy of it shows: a reused file answers its width.
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        await using (var session = store.LightweightSession())
        {
            var item = (await session.LoadAsync<MediaItem>(first))!;
            session.Store(item with { Width = 7 });
            await session.SaveChangesAsync();
        }

        var alicesAgain = await alice.UploadOkAsync(bytes, "a-again.jpg");
        var bobs = await bob.UploadOkAsync(bytes, "b.jpg");

        Assert.Equal(7, alicesAgain.GetProperty("width").GetInt32());
        Assert.Equal(320, bobs.GetProperty("width").GetInt32());
    }
}
