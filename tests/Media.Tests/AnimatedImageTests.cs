using System.Net;
using Platform.Testing;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>Animated GIF and WebP stay animated (re-encoded by ffmpeg, within limits) with a still thumbnail; over a limit they become a still.</summary>
public sealed class AnimatedImageTests(MediaHost host) : IClassFixture<MediaHost>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    public static TheoryData<string, string, string[]> Animations => new()
    {
        { "gif", "image/gif", ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-loop", "0"] },
        { "webp", "image/webp", ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "libwebp_anim", "-loop", "0"] },
    };

    [Theory]
    [MemberData(nameof(Animations))]
    public async Task AnAnimatedImage_StaysAnimated_WithAStillThumbnail_AndIsAnnouncedAsAnimated(string extension, string contentType, string[] ffmpeg)
    {
        var alice = host.Client();
        var animation = AudioVideoTests.Generate(extension, ffmpeg);
        using (var original = SKCodec.Create(new SKMemoryStream(animation)))
            Assert.Equal(10, original.FrameCount);

        var media = await alice.UploadOkAsync(animation, $"dance.{extension}");

        var id = media.GetProperty("id").GetGuid();
        Assert.Equal(contentType, media.GetProperty("contentType").GetString());
        Assert.True(media.GetProperty("animated").GetBoolean());
        Assert.Equal(64, media.GetProperty("width").GetInt32());
        Assert.Equal(48, media.GetProperty("height").GetInt32());
        Assert.InRange(media.GetProperty("durationMs").GetInt64(), 900, 1100);
        Assert.False(string.IsNullOrEmpty(media.GetProperty("blurHash").GetString()));

        var stored = await alice.DownloadAsync($"/api/v1/media/{id}");
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(contentType, stored.Content.Headers.ContentType?.MediaType);
        using (var reencoded = SKCodec.Create(new SKMemoryStream(await stored.Content.ReadAsByteArrayAsync())))
        {
            Assert.Equal(10, reencoded.FrameCount);
            Assert.InRange(reencoded.FrameInfo.Sum(f => f.Duration), 900, 1100);
        }
        var thumbnail = await alice.DownloadAsync($"/api/v1/media/{id}/thumbnail");
        Assert.Equal("image/webp", thumbnail.Content.Headers.ContentType?.MediaType);
        using (var still = SKCodec.Create(new SKMemoryStream(await thumbnail.Content.ReadAsByteArrayAsync())))
            Assert.True(still.FrameCount <= 1, "the thumbnail is a still");

        var ready = await Eventually.Returns(() => host.Bus.NextAsync(Soon), m => m.MediaId == id, Soon, "MediaReady for the animation");
        Assert.True(ready.Animated);
        Assert.Equal(contentType, ready.ContentType);
        Assert.NotNull(ready.BlurHash);
    }

    [Fact]
    public async Task AnAnimationOverTheDurationLimit_IsKeptAsAStill()
    {
        var alice = host.Client();
        // 61 frames of a second each: over the 60 s limit.
        var longGif = AudioVideoTests.Generate("gif", "-f", "lavfi", "-i", "testsrc=size=16x16:rate=1:duration=61", "-loop", "0");

        var media = await alice.UploadOkAsync(longGif, "long.gif");

        Assert.False(media.GetProperty("animated").GetBoolean());
        Assert.Equal("image/png", media.GetProperty("contentType").GetString());
        var stored = await alice.DownloadAsync($"/api/v1/media/{media.GetProperty("id").GetGuid()}");
        using var still = SKCodec.Create(new SKMemoryStream(await stored.Content.ReadAsByteArrayAsync()));
        Assert.True(still.FrameCount <= 1, "a still");
    }
}
