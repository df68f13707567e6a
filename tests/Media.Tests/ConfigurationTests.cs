using System.Net;
using Microsoft.Extensions.Configuration;
using Platform.Media.LinkPreviews;
using Platform.Testing;

namespace Platform.Media.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public void ConfiguredLists_ReplaceTheDefaults_AndNoneKeepsThem()
    {
        var configured = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Media:AllowedContentTypes:0"] = "image/png",
            ["LinkPreviews:AllowedPorts:0"] = "443",
        }).Build();
        var empty = new ConfigurationBuilder().Build();

        Assert.Equal(["image/png"], configured.GetSection("Media").Get<MediaOptions>()!.EffectiveContentTypes);
        Assert.Equal([443], configured.GetSection("LinkPreviews").Get<LinkPreviewOptions>()!.EffectivePorts);
        Assert.Equal(MediaOptions.DefaultContentTypes, (empty.GetSection("Media").Get<MediaOptions>() ?? new MediaOptions()).EffectiveContentTypes);
        Assert.Equal(LinkPreviewOptions.DefaultPorts, new LinkPreviewOptions().EffectivePorts);
    }
}

/// <summary>An operator who allows SVG and HTML (and PNG), and nothing else.</summary>
public sealed class ActiveContentHost : MediaHost
{
    protected override void Configure(ServiceFactory<Program> factory) => base.Configure(factory
        .WithSetting("Media:AllowedContentTypes:0", "image/svg+xml")
        .WithSetting("Media:AllowedContentTypes:1", "text/html")
        .WithSetting("Media:AllowedContentTypes:2", "image/png"));
}

public sealed class ActiveContentTests(ActiveContentHost host) : IClassFixture<ActiveContentHost>
{
    [Theory]
    [InlineData("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"5\"/></svg>", "image/svg+xml")]
    [InlineData("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>", "text/html")]
    public async Task ActiveContent_WhenAllowed_IsOnlyEverADownload_InASandbox(string content, string contentType)
    {
        var alice = host.Client();

        var media = await alice.UploadOkAsync(System.Text.Encoding.UTF8.GetBytes(content), "page.bin");
        var download = await alice.DownloadAsync($"/api/v1/media/{media.GetProperty("id").GetGuid()}");

        Assert.Equal(contentType, media.GetProperty("contentType").GetString());
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("sandbox", download.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task ATypeLeftOutOfTheConfiguredList_IsRefused()
    {
        var alice = host.Client();

        var response = await alice.UploadAsync(TestFiles.Jpeg(20, 20), "photo.jpg");

        await UploadAndAccessTests.AssertProblem(response, HttpStatusCode.UnsupportedMediaType, "Unsupported file type");
        await alice.UploadOkAsync(TestFiles.Png(20, 20), "photo.png");
    }
}

public sealed class RateLimitedHost : MediaHost
{
    protected override void Configure(ServiceFactory<Program> factory) => base.Configure(factory
        .WithSetting("Media:UploadsPerMinute", "2")
        .WithSetting("LinkPreviews:RequestsPerMinute", "2"));
}

public sealed class RateLimitTests(RateLimitedHost host) : IClassFixture<RateLimitedHost>
{
    [Fact]
    public async Task UploadsAndPreviews_PastTheUsersRate_Are429_AndOtherUsersGoOn()
    {
        var alice = host.Client();
        var bob = host.Client();

        await alice.UploadOkAsync(TestFiles.Pdf("1"), "1.pdf");
        await alice.UploadOkAsync(TestFiles.Pdf("2"), "2.pdf");
        var third = await alice.UploadAsync(TestFiles.Pdf("3"), "3.pdf");
        for (var i = 0; i < 2; i++)
            await alice.Http.GetAsync("/api/v1/link-previews?url=http%3A%2F%2F127.0.0.1%2F");
        var preview = await alice.Http.GetAsync("/api/v1/link-previews?url=http%3A%2F%2F127.0.0.1%2F");

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("application/problem+json", third.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.TooManyRequests, preview.StatusCode);
        await bob.UploadOkAsync(TestFiles.Pdf("bob"), "bob.pdf");
    }
}
