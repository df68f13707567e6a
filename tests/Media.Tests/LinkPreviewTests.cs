using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Media;
using Platform.Contracts.Messaging;
using Platform.Media.LinkPreviews;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.Media.Tests;

/// <summary>
/// Media with a local web site it may preview (an allowed endpoint), and canary listeners on loopback that it must never
/// reach: their ports are allowed ports, so only the address rules stand between them and the fetcher.
/// </summary>
public class LinkPreviewHost : MediaHost
{
    public Uri Site { get; private set; } = null!;

    public Canary V4 { get; } = new(IPAddress.Loopback);

    public Canary V6 { get; private set; } = null!;

    protected override async Task StartingAsync()
    {
        WebApplication site;
        (site, Site) = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/article", (HttpContext http) => Results.Content($"""
                <!doctype html><html><head>
                <title>Plain title</title>
                <meta property="og:title" content="Otters hold hands while sleeping">
                <meta property="og:description" content="So they do not drift apart.">
                <meta property="og:image" content="/images/otters.jpg">
                <meta property="og:site_name" content="Nature Daily">
                <meta name="twitter:card" content="summary_large_image">
                </head><body>hello</body></html>
                """, "text/html; charset=utf-8"));
            app.MapGet("/video", () => Results.Content("""
                <html><head><link rel="alternate" type="application/json+oembed" href="/oembed.json"></head><body></body></html>
                """, "text/html"));
            app.MapGet("/oembed.json", () => Results.Json(new { type = "video", title = "A tube video", provider_name = "Tube", thumbnail_url = "https://img.example/t.jpg" }));
            app.MapGet("/redirect", () => Results.Redirect("/article"));
            app.MapGet("/redirect-to-canary", () => Results.Redirect($"http://127.0.0.1:{V4.Port}/"));
            app.MapGet("/redirect-to-localhost", () => Results.Redirect($"http://localhost:{V4.Port}/"));
            app.MapGet("/redirect-to-metadata", () => Results.Redirect("http://169.254.169.254/latest/meta-data/"));
            app.MapGet("/binary", () => Results.Bytes(new byte[100], "application/octet-stream"));
            app.MapGet("/missing", () => Results.NotFound());
            app.MapGet("/slow", async (CancellationToken cancellationToken) =>
            {
                // A site slower than the fetch timeout: the timeout is what is under test.
                await Task.Delay(TimeSpan.FromSeconds(20), cancellationToken);
                return Results.Content("<html></html>", "text/html");
            });
        });
        // Ports are per address family: a v6 canary on the site's port number would be the site's allowed endpoint
        // (127.0.0.1:port) for names that resolve to both families, and the site would answer instead of a refusal.
        V6 = new Canary(IPAddress.IPv6Loopback);
        while (V6.Port == Site.Port || V6.Port == V4.Port)
        {
            V6.Dispose();
            V6 = new Canary(IPAddress.IPv6Loopback);
        }
        Own(site);
        Own(V4);
        Own(V6);
    }

    protected override void Configure(ServiceFactory<Program> factory) => base.Configure(factory
        // The tests here fetch the one local site (and canaries) far more often than anyone would: budgets in their own fixture.
        .WithSetting("LinkPreviews:FetchesPerUserPerMinute", "10000")
        .WithSetting("LinkPreviews:FetchesPerSitePerMinute", "10000")
        .WithSetting("LinkPreviews:AllowedEndpoints:0", $"127.0.0.1:{Site.Port}")
        .WithSetting("LinkPreviews:AllowedPorts:0", "80")
        .WithSetting("LinkPreviews:AllowedPorts:1", "443")
        .WithSetting("LinkPreviews:AllowedPorts:2", V4.Port.ToString())
        .WithSetting("LinkPreviews:AllowedPorts:3", V6.Port.ToString())
        .WithSetting("LinkPreviews:Timeout", "00:00:02")
        .WithServices(services => services.AddSingleton<IHostResolver>(new TestResolver())));

    /// <summary>Names a test controls: a site name for the local server, and names that resolve to loopback.</summary>
    private sealed class TestResolver : IHostResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Task.FromResult(host switch
        {
            "site.test" => [IPAddress.Loopback],
            "rebind.test" => [IPAddress.Loopback],
            "mixed.test" => [IPAddress.IPv6Loopback, IPAddress.Parse("::ffff:127.0.0.1")],
            _ => Dns.GetHostAddresses(host),
        });
    }
}

/// <summary>A listener that only counts the connections it accepts.</summary>
public sealed class Canary : IDisposable, IAsyncDisposable
{
    private readonly TcpListener _listener;
    private int _accepted;

    public Canary(IPAddress address)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    using var client = await _listener.AcceptTcpClientAsync();
                    Interlocked.Increment(ref _accepted);
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    public void Dispose() => _listener.Stop();

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class LinkPreviewTests(LinkPreviewHost host) : IClassFixture<LinkPreviewHost>
{
    [Fact]
    public async Task Preview_OfALocalPage_ReadsItsOpenGraphMetadata()
    {
        var alice = host.Client();

        var preview = await MediaClient.Json(await alice.Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(host.Site + "article")}"), 200);

        Assert.Equal("Otters hold hands while sleeping", preview.GetProperty("title").GetString());
        Assert.Equal("So they do not drift apart.", preview.GetProperty("description").GetString());
        Assert.Equal(host.Site + "images/otters.jpg", preview.GetProperty("imageUrl").GetString());
        Assert.Equal("Nature Daily", preview.GetProperty("siteName").GetString());
    }

    [Fact]
    public async Task Preview_FollowsAllowedRedirects_AndFillsGapsFromOEmbed()
    {
        var alice = host.Client();

        var redirected = await MediaClient.Json(await alice.Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(host.Site + "redirect")}"), 200);
        var video = await MediaClient.Json(await alice.Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString($"http://site.test:{host.Site.Port}/video")}"), 200);

        Assert.Equal("Otters hold hands while sleeping", redirected.GetProperty("title").GetString());
        Assert.Equal(host.Site + "article", redirected.GetProperty("finalUrl").GetString());
        Assert.Equal("A tube video", video.GetProperty("title").GetString());
        Assert.Equal("Tube", video.GetProperty("siteName").GetString());
        Assert.Equal("https://img.example/t.jpg", video.GetProperty("imageUrl").GetString());
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("missing")]
    [InlineData("slow")]
    public async Task Preview_OfSomethingThatIsNotAPage_Is422(string path)
    {
        var alice = host.Client();

        var response = await alice.Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(host.Site + path)}");

        await UploadAndAccessTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity, "No preview");
    }

    [Fact]
    public async Task PostedMessage_WithAUrl_GetsALinkPreviewReadyEvent()
    {
        await using var previews = await BusProbe<LinkPreviewReady>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var conversation = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        var url = host.Site + "article";

        await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, Guid.CreateVersion7(),
            new { id = messageId, text = "look " + url, urls = new[] { url, "http://127.0.0.1:1/" }, attachments = Array.Empty<object>() });

        var ready = await previews.NextAsync(TimeSpan.FromSeconds(15));
        Assert.Equal((conversation, messageId, url), (ready.ConversationId, ready.MessageId, ready.Url));
        Assert.Equal("Otters hold hands while sleeping", ready.Title);
        Assert.Equal("Nature Daily", ready.SiteName);
        Assert.Empty(await previews.DrainAsync(TimeSpan.FromSeconds(1)));

        // An edit that brings a new URL gets its preview too.
        var added = host.Site + "video";
        await host.PublishAsync(conversation, ConversationEventTypes.MessageEdited, Guid.CreateVersion7(),
            new { messageId, text = "now " + added, urls = new[] { added } });
        var edited = await previews.NextAsync(TimeSpan.FromSeconds(15));
        Assert.Equal((messageId, added, "A tube video"), (edited.MessageId, edited.Url, edited.Title));
    }

    public static TheoryData<string> SsrfCorpus() =>
    [
        "http://127.0.0.1:{v4}/",
        "http://2130706433:{v4}/",
        "http://0x7f000001:{v4}/",
        "http://0x7f.0.0.1:{v4}/",
        "http://017700000001:{v4}/",
        "http://127.1:{v4}/",
        "http://0.0.0.0:{v4}/",
        "http://localhost:{v4}/",
        "http://LocalHost:{v6}/",
        "http://rebind.test:{v4}/",
        "http://mixed.test:{v6}/",
        "http://[::1]:{v6}/",
        "http://[0:0:0:0:0:0:0:1]:{v6}/",
        "http://[::ffff:127.0.0.1]:{v4}/",
        "http://[::ffff:7f00:1]:{v4}/",
        "http://[::127.0.0.1]:{v4}/",
        "http://[64:ff9b::127.0.0.1]:{v4}/",
        "http://[2002:7f00:1::]:{v4}/",
        "http://[fe80::1]:{v6}/",
        "http://[::]:{v6}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://10.0.0.1:{v4}/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "{site}redirect-to-canary",
        "{site}redirect-to-localhost",
        "{site}redirect-to-metadata",
        "http://user:password@site.test:{v4}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{v4}/",
        "ftp://127.0.0.1:{v4}/",
    ];

    [Theory]
    [MemberData(nameof(SsrfCorpus))]
    public async Task Preview_OfAnInternalAddress_IsRefused_WithoutConnectingToIt(string template)
    {
        var alice = host.Client();
        var url = template.Replace("{v4}", host.V4.Port.ToString()).Replace("{v6}", host.V6.Port.ToString()).Replace("{site}", host.Site.ToString());
        // Never let a regression send traffic to a real private network: the rule is checked before the request.
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && IPAddress.TryParse(uri.DnsSafeHost, out var literal))
            Assert.False(AddressPolicy.IsPublic(literal), $"{literal} must count as internal");

        var response = await alice.Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(url)}");

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, host.V4.Accepted);
        Assert.Equal(0, host.V6.Accepted);
    }

    [Fact]
    public async Task Preview_WithoutAToken_Is401()
    {
        var response = await host.Factory.CreateClient().GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(host.Site + "article")}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}

/// <summary>Media with small fetch budgets: 3 pages per user and 5 per site a minute.</summary>
public sealed class SmallFetchBudgetHost : LinkPreviewHost
{
    protected override void Configure(ServiceFactory<Program> factory)
    {
        base.Configure(factory);
        factory.WithSetting("LinkPreviews:FetchesPerUserPerMinute", "3").WithSetting("LinkPreviews:FetchesPerSitePerMinute", "5");
    }
}

public sealed class FetchBudgetTests(SmallFetchBudgetHost host) : IClassFixture<SmallFetchBudgetHost>
{
    [Fact]
    public async Task MessagesFullOfUrls_FetchNoMoreThanTheirAuthorsBudget_NorMoreThanTheSitesBudget()
    {
        await using var previews = await BusProbe<LinkPreviewReady>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var conversation = Guid.CreateVersion7();
        var flooder = Guid.CreateVersion7();

        // Six messages, each with a page not fetched before: the author's budget allows three.
        for (var i = 0; i < 6; i++)
        {
            var url = $"{host.Site}article?flood={i}";
            await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, flooder,
                new { id = Guid.CreateVersion7(), text = url, urls = new[] { url }, attachments = Array.Empty<object>() });
        }
        var first = await previews.NextAsync(TimeSpan.FromSeconds(15));
        var flood = new[] { first }.Concat(await previews.DrainAsync(TimeSpan.FromSeconds(3))).ToList();
        Assert.Equal(3, flood.Count);

        // Someone else still gets previews, until the site's budget (5 a minute, for everyone) is spent too.
        var others = new List<LinkPreviewReady>();
        for (var i = 0; i < 3; i++)
        {
            var url = $"{host.Site}article?other={i}";
            await host.PublishAsync(conversation, ConversationEventTypes.MessagePosted, Guid.CreateVersion7(),
                new { id = Guid.CreateVersion7(), text = url, urls = new[] { url }, attachments = Array.Empty<object>() });
        }
        others.Add(await previews.NextAsync(TimeSpan.FromSeconds(15)));
        others.AddRange(await previews.DrainAsync(TimeSpan.FromSeconds(3)));
        Assert.Equal(2, others.Count);

        // A preview already fetched costs nothing: the API answers it from the cache although both budgets are spent.
        var cached = await host.Client().Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(flood[0].Url)}");
        Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        var refused = await host.Client().Http.GetAsync($"/api/v1/link-previews?url={Uri.EscapeDataString(host.Site + "article?api=1")}");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
    }
}
