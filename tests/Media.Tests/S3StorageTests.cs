using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Platform.Media.Storage;
using Platform.Testing;
using SkiaSharp;

namespace Platform.Media.Tests;

/// <summary>
/// A local S3-compatible server (s3rver, from tests/s3-server: `npm ci --prefix tests/s3-server`, which scripts/test.sh
/// runs) with a bucket for Media.
/// </summary>
public sealed class S3Server : IAsyncDisposable
{
    public const string Bucket = "platform-media";

    private readonly Process _process;
    private readonly string _data;

    private S3Server(Process process, string data, int port)
    {
        _process = process;
        _data = data;
        Url = $"http://127.0.0.1:{port}";
    }

    public string Url { get; }

    public static async Task<S3Server> StartAsync()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent;
        var script = Path.Combine(root!.FullName, "tests", "s3-server", "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(script))
            throw new InvalidOperationException($"{script} is missing: run `npm ci --prefix tests/s3-server` (scripts/test.sh does).");
        var data = Path.Combine(Path.GetTempPath(), "s3rver-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(data);
        var port = TestInfrastructure.UnusedPort();
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { script, "-d", data, "-a", "127.0.0.1", "-p", port.ToString(), "--configure-bucket", Bucket, "--silent" })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new S3Server(process, data, port);
        await Eventually.Returns(async () =>
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, ready => ready, TimeSpan.FromSeconds(20), "s3rver listens");
        return server;
    }

    public StorageOptions Options() => new()
    {
        Provider = "s3", S3ServiceUrl = Url, S3Bucket = Bucket, S3AccessKey = "S3RVER", S3SecretKey = "S3RVER", S3Region = "us-east-1",
    };

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_data, recursive: true);
    }
}

public sealed class S3StorageTests : IAsyncLifetime
{
    private S3Server _server = null!;

    public async Task InitializeAsync() => _server = await S3Server.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task S3Store_PutsOnce_ReadsWithSeeks_AndDeletes()
    {
        var store = S3BlobStore.Create(_server.Options());
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes));

        Assert.False(await store.ExistsAsync(key, default));
        Assert.Null(await store.OpenReadAsync(key, default));
        await store.PutAsync(key, new MemoryStream(bytes), "application/pdf", default);
        await store.PutAsync(key, new MemoryStream(bytes), "application/pdf", default);

        Assert.True(await store.ExistsAsync(key, default));
        await using (var stream = (await store.OpenReadAsync(key, default))!)
        {
            Assert.Equal(bytes.Length, stream.Length);
            var whole = new MemoryStream();
            await stream.CopyToAsync(whole);
            Assert.Equal(bytes, whole.ToArray());
            stream.Seek(123_456, SeekOrigin.Begin);
            var part = new byte[1000];
            await stream.ReadExactlyAsync(part);
            Assert.Equal(bytes[123_456..124_456], part);
        }
        await store.DeleteAsync(key, default);
        Assert.False(await store.ExistsAsync(key, default));
    }
}

public sealed class S3MediaHost : MediaHost
{
    public S3Server S3 { get; private set; } = null!;

    protected override async Task StartingAsync() => S3 = Own(await S3Server.StartAsync());

    protected override void Configure(ServiceFactory<Program> factory)
    {
        base.Configure(factory);
        foreach (var (key, value) in new Dictionary<string, string?>
        {
            ["Provider"] = "s3", ["S3ServiceUrl"] = S3.Url, ["S3Bucket"] = S3Server.Bucket,
            ["S3AccessKey"] = "S3RVER", ["S3SecretKey"] = "S3RVER", ["S3Region"] = "us-east-1",
        })
            factory.WithSetting("Media:Storage:" + key, value);
    }
}

public sealed class S3MediaTests(S3MediaHost host) : IClassFixture<S3MediaHost>
{
    [Fact]
    public async Task Media_OnS3_UploadsServesRangesAndDeletes()
    {
        var alice = host.Client();
        var media = await alice.UploadOkAsync(TestFiles.Jpeg(800, 600, new SKColor(10, 60, 110)), "s3.jpg");
        var id = media.GetProperty("id").GetGuid();
        var pdf = TestFiles.Pdf(new string('r', 5000));
        var document = (await alice.UploadOkAsync(pdf, "s3.pdf")).GetProperty("id").GetGuid();

        var thumbnail = await alice.DownloadAsync($"/api/v1/media/{id}/thumbnail?size=large");
        Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
        using (var decoded = SKBitmap.Decode(await thumbnail.Content.ReadAsByteArrayAsync()))
            Assert.Equal((800, 600), (decoded.Width, decoded.Height));
        var part = await alice.DownloadAsync($"/api/v1/media/{document}", r => r.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, 1999));
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(pdf[1000..2000], await part.Content.ReadAsByteArrayAsync());

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/media/{document}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.Http.GetAsync($"/api/v1/media/{document}")).StatusCode);
        Assert.False(await S3BlobStore.Create(host.S3.Options()).ExistsAsync(Convert.ToHexStringLower(SHA256.HashData(pdf)), default));
    }
}
