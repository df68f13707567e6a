using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Platform.Client;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// Identity, Messaging and the Gateway as processes; Media, Notifications and Presence are started by the tests, later,
/// on ports the Gateway already routes to, with generated client secrets to read Messaging's conversation log.
/// </summary>
public sealed class BackfillStack : IAsyncLifetime
{
    private readonly string _storage = Path.Combine(Path.GetTempPath(), "e2e-backfill-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly string _mediaKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly int _mediaPort = TestInfrastructure.UnusedPort();
    private readonly int _notificationsPort = TestInfrastructure.UnusedPort();
    private readonly int _presencePort = TestInfrastructure.UnusedPort();
    private readonly List<ServiceProcess> _late = [];
    private Dictionary<string, string?> _common = null!;

    public PlatformInfrastructure Infrastructure { get; } = new();

    public ServiceClients Clients { get; } = ServiceClients.ConversationLogReaders();

    public ServiceProcess Identity { get; private set; } = null!;

    public ServiceProcess Messaging { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        var gatewayPort = TestInfrastructure.UnusedPort();
        _common = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = Infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = $"http://127.0.0.1:{gatewayPort}/",
            ["Auth:RequireHttpsMetadata"] = "false",
        };
        using var key = RSA.Create(2048);
        var identity = new Dictionary<string, string?>(_common) { ["Identity:Keys:SigningKey"] = key.ExportPkcs8PrivateKeyPem() };
        foreach (var (name, value) in Clients.IdentitySettings())
            identity[name] = value;
        Identity = await ServiceProcess.StartAsync("Identity", identity);
        _common["Auth:MetadataAddress"] = Identity.BaseAddress.ToString();
        Messaging = await ServiceProcess.StartAsync("Messaging", _common);
        Gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(_common)
        {
            ["ReverseProxy:Clusters:identity:Destinations:primary:Address"] = Identity.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = Messaging.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:media:Destinations:primary:Address"] = $"http://127.0.0.1:{_mediaPort}/",
            ["ReverseProxy:Clusters:notifications:Destinations:primary:Address"] = $"http://127.0.0.1:{_notificationsPort}/",
            ["ReverseProxy:Clusters:presence:Destinations:primary:Address"] = $"http://127.0.0.1:{_presencePort}/",
        }, port: gatewayPort);
    }

    /// <summary>Media on the platform's database, storage and port; <paramref name="rabbitMq"/> another broker vhost to keep it deaf to the conversation events.</summary>
    public Task<ServiceProcess> StartMediaAsync(string? rabbitMq = null, bool backfill = true) =>
        StartLateAsync("Media", "media", _mediaPort, new Dictionary<string, string?>
        {
            ["Media:SigningKey"] = _mediaKey,
            ["Media:Storage:Path"] = Path.Combine(_storage, "blobs"),
            ["Media:StagingPath"] = Path.Combine(_storage, "staging"),
            ["Media:UploadsPerMinute"] = "1000",
            ["ConnectionStrings:RabbitMq"] = rabbitMq ?? Infrastructure.VirtualHost.ConnectionString,
            ["ConversationLog:Enabled"] = backfill ? "true" : "false",
        });

    public Task<ServiceProcess> StartNotificationsAsync() => StartLateAsync("Notifications", "notifications", _notificationsPort, []);

    public Task<ServiceProcess> StartPresenceAsync() => StartLateAsync("Presence", "presence", _presencePort, []);

    private async Task<ServiceProcess> StartLateAsync(string service, string clientId, int port, Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>(_common);
        foreach (var (name, value) in Clients.ServiceSettings(clientId, Messaging.BaseAddress))
            settings[name] = value;
        settings["ConversationLog:PageSize"] = "50";
        foreach (var (name, value) in extra)
            settings[name] = value;
        var process = await ServiceProcess.StartAsync(service, settings, port: port);
        lock (_late)
            _late.Add(process);
        return process;
    }

    public async Task<Account> RegisterAsync(string displayName)
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
        return new Account(user.GetProperty("id").GetGuid(), email, password, sdk, client);
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _late)
            await process.DisposeAsync();
        await Gateway.DisposeAsync();
        await Messaging.DisposeAsync();
        await Identity.DisposeAsync();
        await Infrastructure.DisposeAsync();
        if (Directory.Exists(_storage))
            Directory.Delete(_storage, recursive: true);
    }
}

public sealed record Account(Guid Id, string Email, string Password, PlatformClient Sdk, HttpClient Http) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Sdk.DisposeAsync();
        Http.Dispose();
    }
}

public sealed class BackfillTests(BackfillStack stack) : IClassFixture<BackfillStack>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ServicesStartedAfter100ConversationsWithAttachments_RebuildFromTheLog_WithoutNotifyingOldMessages_ThenWorkLive()
    {
        await using var alice = await stack.RegisterAsync("Alice Early");
        await using var bob = await stack.RegisterAsync("Bob Early");
        await using var carol = await stack.RegisterAsync("Carol Sometimes");
        await using var dave = await stack.RegisterAsync("Dave Outsider");

        // Files are uploaded to a Media that hears no conversation events (another vhost): when the real one starts, it
        // has the files but knows no conversation, member or attachment, and has never had a queue.
        var deaf = new RabbitMqVirtualHost();
        await deaf.InitializeAsync();
        var earlyMedia = await stack.StartMediaAsync(deaf.ConnectionString, backfill: false);
        var chats = new List<(Guid Conversation, Guid Message, Guid File, bool WithCarol)>();
        for (var batch = 0; batch < 100; batch += 10)
            chats.AddRange(await Task.WhenAll(Enumerable.Range(batch, 10).Select(async i =>
            {
                var file = await alice.Sdk.UploadMediaAsync(new MemoryStream(Pdf()), $"report-{i}.pdf");
                var withCarol = i % 2 == 0;
                var conversation = await alice.Sdk.CreateConversationAsync("group", withCarol ? [bob.Id, carol.Id] : [bob.Id], $"chat {i}");
                var message = await alice.Sdk.SendMessageAsync(conversation.Id, $"file {i}", attachments: [file.Id]);
                return (conversation.Id, message.Id, file.Id, withCarol);
            })));
        // History the rebuilt state must reflect: a deleted message (its file goes) and a member who left.
        await alice.Sdk.DeleteMessageAsync(chats[0].Conversation, chats[0].Message);
        await alice.Sdk.RemoveMemberAsync(chats[2].Conversation, carol.Id);
        await earlyMedia.StopAsync();
        await deaf.DisposeAsync();

        await stack.StartMediaAsync();
        await stack.StartNotificationsAsync();
        await stack.StartPresenceAsync();

        // The log is replayed in order: once the last attachment is readable, all of them are.
        await Eventually.Returns(() => bob.Http.GetAsync($"/api/v1/media/{chats[^1].File}"), r => r.StatusCode == HttpStatusCode.Redirect, Soon,
            "Media backfills memberships and attachments from Messaging's log");
        foreach (var (chat, index) in chats.Select((c, i) => (c, i)))
        {
            var deleted = index == 0;
            Assert.Equal(deleted ? HttpStatusCode.NotFound : HttpStatusCode.Redirect, (await bob.Http.GetAsync($"/api/v1/media/{chat.File}")).StatusCode);
            var carolReads = chat.WithCarol && !deleted && index != 2;
            Assert.Equal(carolReads ? HttpStatusCode.Redirect : HttpStatusCode.NotFound, (await carol.Http.GetAsync($"/api/v1/media/{chat.File}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await dave.Http.GetAsync($"/api/v1/media/{chat.File}")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await alice.Http.GetAsync($"/api/v1/media/{chats[0].File}")).StatusCode);

        // Notifications knows every conversation (preferences for a conversation it does not know are 404), and made no
        // feed entry (so no push) for any old message.
        var preferences = new { conversations = chats.Select(c => new { conversationId = c.Conversation, level = "all" }) };
        await Eventually.Returns(() => bob.Http.PutAsJsonAsync("/api/v1/notifications/preferences", preferences), r => r.IsSuccessStatusCode, Soon,
            "Notifications backfills every conversation with its members");
        Assert.Empty((await bob.Sdk.GetNotificationsAsync()).Items);
        Assert.Empty((await carol.Sdk.GetNotificationsAsync()).Items);

        // Presence knows who shares a conversation.
        var occupancy = await Eventually.Returns(() => bob.Http.GetAsync($"/api/v1/conversations/{chats[^1].Conversation}/occupancy"),
            r => r.IsSuccessStatusCode, Soon, "Presence backfills memberships");
        Assert.Equal(2, (await occupancy.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("members").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await dave.Http.GetAsync($"/api/v1/conversations/{chats[^1].Conversation}/occupancy")).StatusCode);

        // New messages are handled live as usual: a new attachment is readable, and Bob is notified once.
        var fresh = await alice.Sdk.UploadMediaAsync(new MemoryStream(Pdf()), "fresh.pdf");
        var live = await alice.Sdk.SendMessageAsync(chats[1].Conversation, "a new one", attachments: [fresh.Id]);
        await Eventually.Returns(() => bob.Http.GetAsync($"/api/v1/media/{fresh.Id}"), r => r.StatusCode == HttpStatusCode.Redirect, Soon,
            "the live consumer links the new attachment");
        var feed = await Eventually.Returns(() => bob.Sdk.GetNotificationsAsync(), page => page.Items.Count > 0, Soon, "Bob is notified of the new message");
        var notification = Assert.Single(feed.Items);
        Assert.Equal(chats[1].Conversation, notification.ConversationId);
        Assert.Equal(live.Seq, notification.Seq);
        Assert.Equal(HttpStatusCode.NotFound, (await dave.Http.GetAsync($"/api/v1/media/{fresh.Id}")).StatusCode);
    }

    [Fact]
    public async Task TheConversationLogFeed_IsForServicesOnly_AndPagesInOrderUpToTheHead()
    {
        await using var erin = await stack.RegisterAsync("Erin Feed");
        await using var frank = await stack.RegisterAsync("Frank Feed");
        var conversation = await erin.Sdk.CreateConversationAsync("group", [frank.Id], "feed");
        for (var i = 0; i < 4; i++)
            await erin.Sdk.SendMessageAsync(conversation.Id, $"hello {i}");
        using var messaging = new HttpClient { BaseAddress = stack.Messaging.BaseAddress };
        const string feed = "/internal/v1/conversation-events?after=0&limit=2";

        Assert.Equal(HttpStatusCode.Unauthorized, (await messaging.GetAsync(feed)).StatusCode);
        using (var asUser = new HttpRequestMessage(HttpMethod.Get, feed))
        {
            asUser.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await erin.Sdk.GetAccessTokenAsync());
            Assert.Equal(HttpStatusCode.Forbidden, (await messaging.SendAsync(asUser)).StatusCode);
        }
        // A user's client may not even ask for the scope.
        using var identity = new HttpClient { BaseAddress = stack.Identity.BaseAddress };
        var userAsking = await identity.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = erin.Email, ["password"] = erin.Password,
            ["scope"] = ConversationLogFeed.Scope,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, userAsking.StatusCode);

        var token = await ServiceTokenAsync(identity, "notifications");
        messaging.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var entries = new List<ConversationLogEntry>();
        long after = 0;
        ConversationLogPage page;
        do
        {
            page = (await messaging.GetFromJsonAsync<ConversationLogPage>($"/internal/v1/conversation-events?after={after}&limit=2"))!;
            Assert.True(page.Items.Count <= 2);
            Assert.All(page.Items, e => Assert.True(e.Position <= page.Head));
            entries.AddRange(page.Items);
            after = page.Next ?? after;
        }
        while (page.Next is not null);

        Assert.Equal(entries.Select(e => e.Position).Order(), entries.Select(e => e.Position));
        Assert.Equal(entries.Count, entries.Select(e => e.Position).Distinct().Count());
        var mine = entries.Where(e => e.Event.ConversationId == conversation.Id).Select(e => e.Event).ToList();
        Assert.Equal([1, 2, 3, 4, 5], mine.Select(e => e.Seq));
        Assert.Equal(ConversationEventTypes.ConversationCreated, mine[0].Type);
        Assert.Equal("hello 3", mine[4].Data.GetProperty("text").GetString());
        var withInvalid = await messaging.GetAsync("/internal/v1/conversation-events?after=-1");
        Assert.Equal(HttpStatusCode.BadRequest, withInvalid.StatusCode);

        // Not reachable from outside: the Gateway routes no /internal path.
        using var gateway = new HttpClient { BaseAddress = stack.Gateway.BaseAddress };
        gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.GetAsync(feed)).StatusCode);
    }

    private async Task<string> ServiceTokenAsync(HttpClient identity, string clientId)
    {
        var response = await identity.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = stack.Clients.SecretOf(clientId),
            ["scope"] = ConversationLogFeed.Scope,
        }));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    private static byte[] Pdf()
    {
        var pdf = new byte[2048];
        "%PDF-1.7\n"u8.CopyTo(pdf);
        Random.Shared.NextBytes(pdf.AsSpan(16));
        return pdf;
    }
}
