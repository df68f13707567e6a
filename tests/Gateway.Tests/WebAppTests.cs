using System.Net;
using Platform.Testing;

namespace Platform.Gateway.Tests;

/// <summary>The web app at <c>/</c> (<c>Gateway:WebRoot</c>): served beside the routes, never in their place.</summary>
public sealed class WebAppTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>, IAsyncLifetime
{
    private readonly string _webRoot = Directory.CreateTempSubdirectory("platform-web-").FullName;
    private RecordingDownstream _downstream = null!;

    public async Task InitializeAsync()
    {
        _downstream = await RecordingDownstream.StartAsync();
        Directory.CreateDirectory(Path.Combine(_webRoot, "assets"));
        await File.WriteAllTextAsync(Path.Combine(_webRoot, "index.html"), "<!doctype html><div id=\"root\"></div>");
        await File.WriteAllTextAsync(Path.Combine(_webRoot, "assets", "index-abc.js"), "console.log(1)");
    }

    public async Task DisposeAsync()
    {
        await _downstream.DisposeAsync();
        Directory.Delete(_webRoot, recursive: true);
    }

    private ServiceFactory<Program> Gateway(string webRoot)
    {
        var factory = new ServiceFactory<Program>(infrastructure).WithSetting("Gateway:WebRoot", webRoot);
        foreach (var service in new[] { "identity", "messaging", "presence", "notifications", "media" })
            factory.WithSetting($"ReverseProxy:Clusters:{service}:Destinations:primary:Address", _downstream.Url);
        return factory;
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/c/0190a1b2-0000-7000-8000-000000000001")]
    [InlineData("/callback")]
    public async Task PagePath_AnswersTheAppsIndex(string path)
    {
        await using var gateway = Gateway(_webRoot);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"root\"", await response.Content.ReadAsStringAsync());
        Assert.Contains("script-src 'self'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Empty(_downstream.Received);
    }

    [Theory]
    [InlineData("/api/v1/users/me")]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/connect/authorize")]
    [InlineData("/account/login")]
    [InlineData("/api/v1/conversations/x/occupancy")]
    public async Task RoutedPath_StillReachesItsService_WithTheApp(string path)
    {
        await using var gateway = Gateway(_webRoot);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(path, Assert.Single(_downstream.Received).Path);
    }

    [Theory]
    [InlineData("/api/v2/anything")]
    [InlineData("/hubs/other")]
    [InlineData("/health/other")]
    [InlineData("/assets/missing.js")]
    public async Task UnmatchedApiOrFilePath_IsANotFoundProblem_NotTheApp(string path)
    {
        await using var gateway = Gateway(_webRoot);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Bundle_IsServedAndCachedForGood()
    {
        await using var gateway = Gateway(_webRoot);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/assets/index-abc.js");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("immutable", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task MissingWebRoot_MeansNoApp_AndTheGatewayRunsAsBefore()
    {
        await using var gateway = Gateway(Path.Combine(_webRoot, "not-there"));
        using var client = gateway.CreateClient();

        using var root = await client.GetAsync("/");
        using var live = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.NotFound, root.StatusCode);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }
}
