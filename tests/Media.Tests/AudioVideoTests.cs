using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>Video and voice notes, processed with ffmpeg (scripts/test.sh installs it; these tests fail, not skip, without it).</summary>
public sealed class AudioVideoTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Fact]
    public async Task Video_GetsItsDurationDimensionsAndAPosterThumbnail_AndIsServedWithRanges()
    {
        var alice = host.Client();
        var video = Generate("mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264");

        var media = await alice.UploadOkAsync(video, "clip.mp4");

        Assert.Equal("video/mp4", media.GetProperty("contentType").GetString());
        Assert.Equal("video", media.GetProperty("kind").GetString());
        Assert.Equal((320, 240), (media.GetProperty("width").GetInt32(), media.GetProperty("height").GetInt32()));
        Assert.InRange(media.GetProperty("durationMs").GetInt64(), 2800, 3200);
        var id = media.GetProperty("id").GetGuid();
        var poster = await alice.DownloadAsync($"/api/v1/media/{id}/thumbnail");
        Assert.Equal(HttpStatusCode.OK, poster.StatusCode);
        using (var decoded = SKBitmap.Decode(await poster.Content.ReadAsByteArrayAsync()))
            Assert.Equal((320, 240), (decoded.Width, decoded.Height));

        var part = await alice.DownloadAsync($"/api/v1/media/{id}", r => r.Headers.Range = new RangeHeaderValue(100, 199));
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal("inline", part.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal(video[100..200], await part.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task VoiceNote_RecordedAsWebmAudio_GetsItsDurationAndAWaveform()
    {
        var alice = host.Client();
        // A second of silence, then a second of tone: the waveform shows where the voice starts.
        var note = Generate("webm", "-f", "lavfi", "-i", "aevalsrc=if(gte(t\\,1)\\,0.8*sin(2*PI*440*t)\\,0):s=48000:d=2", "-c:a", "libopus");

        var media = await alice.UploadOkAsync(note, "voice.webm");

        Assert.Equal("audio", media.GetProperty("kind").GetString());
        Assert.Equal("audio/webm", media.GetProperty("contentType").GetString());
        Assert.InRange(media.GetProperty("durationMs").GetInt64(), 1900, 2200);
        var waveform = media.GetProperty("waveform").EnumerateArray().Select(v => v.GetInt32()).ToList();
        Assert.Equal(64, waveform.Count);
        Assert.True(waveform.Take(28).Max() < 10, string.Join(",", waveform));
        Assert.True(waveform.Skip(36).Min() > 50, string.Join(",", waveform));
    }

    [Fact]
    public async Task Mp3_GetsItsDuration()
    {
        var alice = host.Client();
        var mp3 = Generate("mp3", "-f", "lavfi", "-i", "sine=frequency=300:duration=1.5", "-c:a", "libmp3lame");

        var media = await alice.UploadOkAsync(mp3, "tone.mp3");

        Assert.Equal("audio/mpeg", media.GetProperty("contentType").GetString());
        Assert.InRange(media.GetProperty("durationMs").GetInt64(), 1400, 1700);
    }

    [Fact]
    public async Task Video_ThatIsOnlyAHeader_IsRefusedAs422()
    {
        var alice = host.Client();
        byte[] fake = [0, 0, 0, 0x18, .. "ftypisom"u8.ToArray(), .. new byte[4000]];
        var blobs = host.StoredBlobs().Count;

        var response = await alice.UploadAsync(fake, "broken.mp4");

        await UploadAndAccessTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity, "File cannot be processed");
        Assert.Equal(blobs, host.StoredBlobs().Count);
        Assert.Empty(host.StagedFiles());
    }

    internal static byte[] Generate(string extension, params string[] arguments)
    {
        var output = Path.Combine(Path.GetTempPath(), $"media-test-{Guid.NewGuid():N}.{extension}");
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-v", "error", "-y" }.Concat(arguments).Append(output))
            start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"ffmpeg failed: {error}");
            return File.ReadAllBytes(output);
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("ffmpeg is needed for the video and audio tests: `apt-get install ffmpeg` (scripts/test.sh does).", exception);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
