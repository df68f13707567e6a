using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Identity, Messaging, Media and the Gateway as processes, and a local web site Media may preview.</summary>
public sealed class MediaStack : IAsyncLifetime
{
    private readonly string _storage = Path.Combine(Path.GetTempPath(), "e2e-media-" + Guid.NewGuid().ToString("N")[..12]);
    private WebApplication _site = null!;

    public PlatformInfrastructure Infrastructure { get; } = new();

    public Uri Site { get; private set; } = null!;

    public ServiceProcess Identity { get; private set; } = null!;

    public ServiceProcess Messaging { get; private set; } = null!;

    public ServiceProcess Media { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        (_site, Site) = await LoopbackServer.StartAsync(app => app.MapGet("/otters", () => Results.Content(
            "<html><head><meta property=\"og:title\" content=\"Otters hold hands\"><meta property=\"og:image\" content=\"/o.jpg\"></head></html>", "text/html")));
        await Infrastructure.InitializeAsync();
        var gatewayPort = TestInfrastructure.UnusedPort();
        var common = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = Infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = $"http://127.0.0.1:{gatewayPort}/",
            ["Auth:RequireHttpsMetadata"] = "false",
        };
        using var key = RSA.Create(2048);
        var clients = ServiceClients.ConversationLogReaders();
        Identity = await ServiceProcess.StartAsync("Identity", new Dictionary<string, string?>(common.Concat(clients.IdentitySettings()))
        {
            ["Identity:Keys:SigningKey"] = key.ExportPkcs8PrivateKeyPem(),
        });
        common["Auth:MetadataAddress"] = Identity.BaseAddress.ToString();
        Messaging = await ServiceProcess.StartAsync("Messaging", common);
        Media = await ServiceProcess.StartAsync("Media", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("media", Messaging.BaseAddress)))
        {
            ["Media:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Media:Storage:Path"] = Path.Combine(_storage, "blobs"),
            ["Media:StagingPath"] = Path.Combine(_storage, "staging"),
            ["LinkPreviews:AllowedEndpoints:0"] = $"127.0.0.1:{Site.Port}",
        });
        Gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(common)
        {
            ["ReverseProxy:Clusters:identity:Destinations:primary:Address"] = Identity.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = Messaging.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:media:Destinations:primary:Address"] = Media.BaseAddress.ToString(),
        }, port: gatewayPort);
    }

    public async Task<(Guid Id, PlatformClient Sdk, HttpClient Http)> RegisterAsync(string displayName)
    {
        using var http = new HttpClient { BaseAddress = Gateway.BaseAddress };
        var email = $"{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery staple";
        var response = await http.PostAsJsonAsync("/api/v1/users", new { email, password, displayName });
        var user = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, user.ToString());
        var sdk = new PlatformClient(new PlatformClientOptions { GatewayUrl = Gateway.BaseAddress, Username = email, Password = password });
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Gateway.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await sdk.GetAccessTokenAsync());
        return (user.GetProperty("id").GetGuid(), sdk, client);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Media.DisposeAsync();
        await Messaging.DisposeAsync();
        await Identity.DisposeAsync();
        await Infrastructure.DisposeAsync();
        await _site.DisposeAsync();
        if (Directory.Exists(_storage))
            Directory.Delete(_storage, recursive: true);
    }
}

public sealed class MediaFlowTests(MediaStack stack) : IClassFixture<MediaStack>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The .NET SDK's conversation-depth calls through the Gateway: an attached file's details reach the message
    /// (Messaging consumes Media's MediaReady), pins, saved messages and mark unread; a non-member is refused.
    /// </summary>
    [Fact]
    public async Task Sdk_AttachmentDetailsPinsSavedMessagesAndMarkUnread_AndNothingForANonMember()
    {
        var alice = await stack.RegisterAsync("Alice Depth");
        var bob = await stack.RegisterAsync("Bob Depth");
        var carol = await stack.RegisterAsync("Carol Outside");
        await using var aliceSdk = alice.Sdk;
        await using var bobSdk = bob.Sdk;
        await using var carolSdk = carol.Sdk;
        var pdf = new byte[4096];
        "%PDF-1.7\n"u8.CopyTo(pdf);
        Random.Shared.NextBytes(pdf.AsSpan(16));
        var file = await aliceSdk.UploadMediaAsync(new MemoryStream(pdf), "notes.pdf");
        var conversation = await aliceSdk.CreateConversationAsync("group", [bob.Id], "depth");
        var message = await aliceSdk.SendMessageAsync(conversation.Id, "the notes", attachments: [file.Id]);
        await aliceSdk.SendMessageAsync(conversation.Id, "and a second message");

        var detailed = await Eventually.Returns(() => bobSdk.GetMessageAsync(conversation.Id, message.Id), m => m.Attachments[0].ContentType is not null, Soon,
            "the attachment's details reach the message");
        Assert.Equal(("application/pdf", (long?)pdf.Length, (bool?)false), (detailed.Attachments[0].ContentType, detailed.Attachments[0].Size, detailed.Attachments[0].Animated));

        await bobSdk.PinMessageAsync(conversation.Id, message.Id);
        Assert.Equal([message.Id], (await aliceSdk.GetPinsAsync(conversation.Id)).Items.Select(m => m.Id));
        Assert.True((await aliceSdk.GetMessageAsync(conversation.Id, message.Id)).Pinned);
        await bobSdk.UnpinMessageAsync(conversation.Id, message.Id);
        Assert.Empty((await aliceSdk.GetPinsAsync(conversation.Id)).Items);

        var saved = await bobSdk.SaveMessageAsync(message.Id);
        Assert.Equal(conversation.Id, saved.ConversationId);
        Assert.Equal([message.Id], (await bobSdk.GetSavedMessagesAsync()).Items.Select(s => s.Message.Id));
        Assert.Empty((await aliceSdk.GetSavedMessagesAsync()).Items);
        await bobSdk.UnsaveMessageAsync(message.Id);
        Assert.Empty((await bobSdk.GetSavedMessagesAsync()).Items);

        await bobSdk.SendReceiptsAsync(conversation.Id, read: message.Seq + 1);
        var unread = await bobSdk.MarkUnreadAsync(conversation.Id, message.Seq);
        Assert.Equal(message.Seq - 1, unread.Read);

        var refused = await Assert.ThrowsAsync<PlatformException>(() => carolSdk.PinMessageAsync(conversation.Id, message.Id));
        Assert.Equal(404, refused.Status);
        await Assert.ThrowsAsync<PlatformException>(() => carolSdk.GetPinsAsync(conversation.Id));
        await Assert.ThrowsAsync<PlatformException>(() => carolSdk.SaveMessageAsync(message.Id));
        await Assert.ThrowsAsync<PlatformException>(() => carolSdk.MarkUnreadAsync(conversation.Id, 1));
    }

    /// <summary>
    /// The .NET SDK's time travel through the Gateway: the seq at a time (<c>GetSeqAtAsync</c>), the messages as of that
    /// seq (before an edit) and the members then; a non-member learns nothing.
    /// </summary>
    [Fact]
    public async Task Sdk_SeqAtATimeAndMessagesAndMembersAsOfIt_AndNothingForANonMember()
    {
        var alice = await stack.RegisterAsync("Alice Travels");
        var bob = await stack.RegisterAsync("Bob Travels");
        var carol = await stack.RegisterAsync("Carol Later");
        await using var aliceSdk = alice.Sdk;
        await using var bobSdk = bob.Sdk;
        await using var carolSdk = carol.Sdk;
        var conversation = await aliceSdk.CreateConversationAsync("group", [bob.Id], "travel");
        var message = await aliceSdk.SendMessageAsync(conversation.Id, "plan A");
        var seq = await bobSdk.GetSeqAtAsync(conversation.Id, DateTimeOffset.UtcNow);
        Assert.Equal(message.Seq, seq);
        Assert.Equal(0, await bobSdk.GetSeqAtAsync(conversation.Id, DateTimeOffset.UtcNow.AddDays(-1)));
        await aliceSdk.EditMessageAsync(conversation.Id, message.Id, "plan B");
        await aliceSdk.AddMembersAsync(conversation.Id, [carol.Id]);

        var then = await bobSdk.GetMessagesAsOfAsync(conversation.Id, asOfSeq: seq);
        Assert.Equal("plan A", then.Items.Single(m => m.Id == message.Id).Text);
        var members = await bobSdk.GetMembersAsync(conversation.Id, asOfSeq: seq);
        Assert.DoesNotContain(carol.Id, members.Items.Select(m => m.UserId));

        var mallory = await stack.RegisterAsync("Mallory Travels");
        await using var mallorySdk = mallory.Sdk;
        var refused = await Assert.ThrowsAsync<PlatformException>(() => mallorySdk.GetSeqAtAsync(conversation.Id, DateTimeOffset.UtcNow));
        Assert.Equal(404, refused.Status);
        await Assert.ThrowsAsync<PlatformException>(() => mallorySdk.GetMessagesAsOfAsync(conversation.Id, asOfSeq: seq));
    }

    [Fact]
    public async Task A40MBFile_UploadedThroughTheGateway_AndAttached_IsReadByMembersOnly_AndGoesWithItsMessage()
    {
        var alice = await stack.RegisterAsync("Alice Files");
        var bob = await stack.RegisterAsync("Bob Files");
        var carol = await stack.RegisterAsync("Carol Outsider");
        await using var aliceSdk = alice.Sdk;
        await using var bobSdk = bob.Sdk;
        await using var carolSdk = carol.Sdk;
        // Larger than Kestrel's default request limit (30 MB): the Gateway's media route and Media both allow 100 MB files.
        var pdf = new byte[40 * 1024 * 1024];
        "%PDF-1.7\n"u8.CopyTo(pdf);
        Random.Shared.NextBytes(pdf.AsSpan(16));

        var file = await aliceSdk.UploadMediaAsync(new MemoryStream(pdf), "big.pdf");
        Assert.Equal(("application/pdf", pdf.LongLength), (file.ContentType, file.Size));

        var conversation = await aliceSdk.CreateConversationAsync("group", [bob.Id], "files");
        await bobSdk.Realtime.StartAsync();
        var message = await aliceSdk.SendMessageAsync(conversation.Id, $"the report, and {stack.Site}otters", attachments: [file.Id]);

        var redirect = await Eventually.Returns(() => bob.Http.GetAsync($"/api/v1/media/{file.Id}"), r => r.StatusCode == HttpStatusCode.Redirect, Soon,
            "Media learns of the attachment from the conversation log and lets Bob read it");
        using var anonymous = new HttpClient { BaseAddress = stack.Gateway.BaseAddress };
        var download = await anonymous.GetAsync(redirect.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal(SHA256.HashData(pdf), SHA256.HashData(await download.Content.ReadAsByteArrayAsync()));
        await using (var opened = await bobSdk.OpenMediaAsync(file.Id))
        {
            var head = new byte[9];
            await opened.ReadExactlyAsync(head);
            Assert.Equal(pdf[..9], head);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await carol.Http.GetAsync($"/api/v1/media/{file.Id}")).StatusCode);
        var refused = await Assert.ThrowsAsync<PlatformException>(() => carolSdk.GetMediaAsync(file.Id));
        Assert.Equal(404, refused.Status);

        // Media previews the link; Messaging attaches the preview to the message through the log, and Bob sees it live.
        using (var timeout = new CancellationTokenSource(Soon))
        {
            await foreach (var e in bobSdk.Realtime.ReadEventsAsync(timeout.Token))
                if (e.ConversationId == conversation.Id && e.Type == EventTypes.LinkPreviewAttached)
                {
                    Assert.Equal(message.Id, e.Data.GetProperty("messageId").GetGuid());
                    Assert.Equal("Otters hold hands", e.Data.GetProperty("title").GetString());
                    break;
                }
        }
        var previewed = await Eventually.Returns(() => bobSdk.GetMessagesAsync(conversation.Id),
            page => page.Items.Single(m => m.Id == message.Id).LinkPreviews is { Count: 1 }, Soon, "the link preview is attached to the message");
        Assert.Equal("Otters hold hands", previewed.Items.Single(m => m.Id == message.Id).LinkPreviews![0].Title);
        var log = await bobSdk.GetEventsAsync(conversation.Id, after: message.Seq);
        Assert.Contains(log.Items, e => e.Type == EventTypes.LinkPreviewAttached);

        await aliceSdk.DeleteMessageAsync(conversation.Id, message.Id);
        await Eventually.Returns(() => alice.Http.GetAsync($"/api/v1/media/{file.Id}"), r => r.StatusCode == HttpStatusCode.NotFound, Soon,
            "the file goes with its message");
    }

    [Fact]
    public async Task LinkPreview_OfAnInternalAddress_ThroughTheGateway_Is400()
    {
        var alice = await stack.RegisterAsync("Alice Ssrf");
        await using var sdk = alice.Sdk;

        var refused = await Assert.ThrowsAsync<PlatformException>(() => sdk.GetLinkPreviewAsync("http://169.254.169.254/latest/meta-data/"));

        Assert.Equal(400, refused.Status);
    }
}
