using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Platform.Media.Processing;

public sealed record ProbedMedia(long? DurationMs, int? Width, int? Height, bool HasVideo, bool HasAudio);

/// <summary>Duration, poster frames and waveforms through ffmpeg/ffprobe, when they are installed.</summary>
public sealed class FfmpegProcessor(MediaOptions options, ILogger<FfmpegProcessor> logger)
{
    private readonly Lazy<bool> _available = new(() => CanRun(options.FfprobePath) && CanRun(options.FfmpegPath));

    public bool Available => _available.Value;

    /// <summary>What the container holds; throws (422) when ffprobe cannot read it at all.</summary>
    public async Task<ProbedMedia> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        var (exit, output, error) = await RunAsync(options.FfprobePath,
            ["-v", "error", "-show_entries", "format=duration:stream=codec_type,width,height", "-of", "json", path], cancellationToken);
        if (exit != 0)
            throw MediaRejectedException.Unprocessable($"The file cannot be read as audio or video: {Trim(error)}");
        using var json = ParseProbe(output);
        long? duration = null;
        if (json.RootElement.TryGetProperty("format", out var format) && format.TryGetProperty("duration", out var d)
            && double.TryParse(d.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            duration = (long)Math.Round(seconds * 1000);
        int? width = null, height = null;
        bool video = false, audio = false;
        if (json.RootElement.TryGetProperty("streams", out var streams))
            foreach (var stream in streams.EnumerateArray())
            {
                var type = stream.TryGetProperty("codec_type", out var t) ? t.GetString() : null;
                if (type == "video" && !video)
                {
                    video = true;
                    width = stream.TryGetProperty("width", out var w) ? w.GetInt32() : null;
                    height = stream.TryGetProperty("height", out var h) ? h.GetInt32() : null;
                }
                audio |= type == "audio";
            }
        return new ProbedMedia(duration, width, height, video, audio);
    }

    /// <summary>A PNG of the frame one second in (or the first frame of a shorter video), or null when none can be taken.</summary>
    public async Task<string?> PosterAsync(string path, long? durationMs, CancellationToken cancellationToken)
    {
        var poster = path + ".poster.png";
        var at = durationMs is > 2000 ? "1" : "0";
        var (exit, _, error) = await RunAsync(options.FfmpegPath,
            ["-v", "error", "-y", "-ss", at, "-i", path, "-frames:v", "1", "-f", "image2", "-c:v", "png", poster], cancellationToken);
        if (exit == 0 && File.Exists(poster))
            return poster;
        logger.LogWarning("No poster frame for {Path}: {Error}", path, Trim(error));
        File.Delete(poster);
        return null;
    }

    /// <summary>
    /// The frames (PNG files, each with its duration) encoded as an animated GIF or WebP that loops forever; null when
    /// ffmpeg fails. The frames' durations are kept (the concat demuxer's per-file durations, variable frame rate).
    /// </summary>
    public async Task<string?> AnimateAsync(IReadOnlyList<(string Path, int DurationMs)> frames, string format, string folder, CancellationToken cancellationToken)
    {
        var list = Path.Combine(folder, "frames.txt");
        var lines = new List<string> { "ffconcat version 1.0" };
        foreach (var (path, duration) in frames)
        {
            lines.Add($"file '{Path.GetFileName(path)}'");
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"duration {duration / 1000.0:0.###}"));
        }
        await File.WriteAllLinesAsync(list, lines, cancellationToken);
        var output = Path.Combine(folder, "animated." + format);
        string[] encode = format == "gif"
            ? ["-filter_complex", "[0:v]split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse", "-c:v", "gif", "-loop", "0"]
            : ["-c:v", "libwebp_anim", "-lossless", "0", "-quality", "80", "-loop", "0", "-pix_fmt", "yuva420p"];
        var (exit, _, error) = await RunAsync(options.FfmpegPath,
            ["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-vsync", "vfr", .. encode, "-f", format == "gif" ? "gif" : "webp", output], cancellationToken);
        if (exit == 0 && File.Exists(output))
            return output;
        logger.LogWarning("The animation could not be re-encoded: {Error}", Trim(error));
        return null;
    }

    /// <summary>Peak levels (0-100) of <paramref name="buckets"/> equal slices of the first ten minutes of sound.</summary>
    public async Task<IReadOnlyList<int>?> WaveformAsync(string path, long? durationMs, int buckets, CancellationToken cancellationToken)
    {
        const int rate = 4000;
        var samplesTotal = (long)Math.Min(durationMs ?? 600_000, 600_000) * rate / 1000;
        if (samplesTotal <= 0)
            return null;
        var perBucket = Math.Max(1, samplesTotal / buckets);
        var peaks = new int[buckets];
        var start = StartInfo(options.FfmpegPath, ["-v", "error", "-i", path, "-t", "600", "-ac", "1", "-ar", rate.ToString(CultureInfo.InvariantCulture), "-f", "s16le", "pipe:1"]);
        using var process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.FfmpegTimeout);
        var buffer = new byte[8192];
        long sample = 0;
        try
        {
            int read;
            var pending = -1;
            while ((read = await process.StandardOutput.BaseStream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                for (var i = 0; i < read; i++)
                {
                    if (pending < 0)
                    {
                        pending = buffer[i];
                        continue;
                    }
                    var value = Math.Abs((int)(short)(pending | (buffer[i] << 8)));
                    pending = -1;
                    var bucket = (int)Math.Min(buckets - 1, sample++ / perBucket);
                    peaks[bucket] = Math.Max(peaks[bucket], value);
                }
            }
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return null;
        }
        if (process.ExitCode != 0 || sample == 0)
            return null;
        return peaks.Select(p => (int)Math.Round(p * 100.0 / short.MaxValue)).ToList();
    }

    private async Task<(int Exit, string Output, string Error)> RunAsync(string file, string[] arguments, CancellationToken cancellationToken)
    {
        using var process = Process.Start(StartInfo(file, arguments))!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.FfmpegTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output, await error);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return (-1, "", $"{Path.GetFileName(file)} took longer than {options.FfmpegTimeout.TotalSeconds:0} s");
        }
    }

    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return start;
    }

    private static bool CanRun(string file)
    {
        try
        {
            using var process = Process.Start(StartInfo(file, ["-version"]));
            if (process is null)
                return false;
            process.StandardOutput.ReadToEnd();
            process.WaitForExit(10_000);
            return process.HasExited && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static JsonDocument ParseProbe(string output)
    {
        try
        {
            return JsonDocument.Parse(output);
        }
        catch (JsonException)
        {
            throw MediaRejectedException.Unprocessable("The file cannot be read as audio or video.");
        }
    }

    private static string Trim(string error) => error.Length > 300 ? error[..300] : error.Trim();
}
