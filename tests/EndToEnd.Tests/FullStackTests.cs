using System.Net.Http.Json;
using System.Security.Cryptography;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Identity, Messaging and the Gateway as processes: real accounts, real tokens, the SDK signing in with the password grant.</summary>
public sealed class FullStack : IAsyncLifetime
{
    public PlatformInfrastructure Infrastructure { get; } = new();

    public ServiceProcess Identity { get; private set; } = null!;

    public ServiceProcess Messaging { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
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
        Identity = await ServiceProcess.StartAsync("Identity", new Dictionary<string, string?>(common)
        {
            ["Identity:Keys:SigningKey"] = key.ExportPkcs8PrivateKeyPem(),
            // Short-lived, so the SDK's refresh (a minute before expiry) happens within a test.
            ["Identity:Tokens:AccessTokenLifetime"] = "00:01:03",
        });
        common["Auth:MetadataAddress"] = Identity.BaseAddress.ToString();
        Messaging = await ServiceProcess.StartAsync("Messaging", common);
        Gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(common)
        {
            ["ReverseProxy:Clusters:identity:Destinations:primary:Address"] = Identity.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = Messaging.BaseAddress.ToString(),
        }, port: gatewayPort);
    }

    /// <summary>Registers an account through the Gateway and returns an SDK client signed in as it.</summary>
    public async Task<(Guid Id, string Username, PlatformClient Sdk)> RegisterAsync(string displayName)
    {
        using var http = new HttpClient { BaseAddress = Gateway.BaseAddress };
        var email = $"{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery staple";
        var response = await http.PostAsJsonAsync("/api/v1/users", new { email, password, displayName });
        var user = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(response.IsSuccessStatusCode, user.ToString());
        var sdk = new PlatformClient(new PlatformClientOptions { GatewayUrl = Gateway.BaseAddress, Username = email, Password = password, MaxReconnectDelay = TimeSpan.FromSeconds(1) });
        return (user.GetProperty("id").GetGuid(), user.GetProperty("username").GetString()!, sdk);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Messaging.DisposeAsync();
        await Identity.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }
}

public sealed class FullStackTests(FullStack stack) : IClassFixture<FullStack>
{
    [Fact]
    public async Task TheSdk_RefreshesItsTokenBeforeItExpires_AndKeepsWorking()
    {
        var carol = await stack.RegisterAsync("Carol Refresh");
        await using var sdk = carol.Sdk;
        var first = await sdk.GetAccessTokenAsync();

        var refreshed = await Eventually.Returns(() => sdk.GetAccessTokenAsync(), token => token != first, TimeSpan.FromSeconds(15),
            "the SDK refreshed the access token a minute before it expires");
        var again = await Eventually.Returns(() => sdk.GetAccessTokenAsync(), token => token != refreshed, TimeSpan.FromSeconds(15),
            "the SDK refreshed again with the rotated refresh token");

        Assert.NotEqual(first, again);
        // Members must be users (Messaging asks Identity): a group of one.
        var conversation = await sdk.CreateConversationAsync("group", [], "after refresh");
        Assert.Equal("owner", conversation.Role);
    }

    [Fact]
    public async Task RegisteredUsers_SignInWithTheSdk_AndChatLive_WithMentionsResolvedFromIdentitysEvents()
    {
        var alice = await stack.RegisterAsync("Alice Liddell");
        var bob = await stack.RegisterAsync("Bob Builder");
        await using var aliceSdk = alice.Sdk;
        await using var bobSdk = bob.Sdk;
        await bobSdk.Realtime.StartAsync();

        var conversation = await aliceSdk.CreateConversationAsync("direct", [bob.Id]);
        // Alice is not in Bob's contacts: the DM is a message request until Bob accepts (then Alice sees his receipts).
        await bobSdk.AcceptRequestAsync(conversation.Id);
        // Messaging learns usernames from Identity's UserRegistered events, over the bus.
        var mention = await Eventually.Returns(
            () => aliceSdk.SendMessageAsync(conversation.Id, $"hello @{bob.Username}"),
            message => message.Mentions.Contains(bob.Id), TimeSpan.FromSeconds(20), "the mention resolves to Bob");

        var received = new List<ConversationEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var e in bobSdk.Realtime.ReadEventsAsync(timeout.Token))
        {
            received.Add(e);
            if (e.Type == EventTypes.MessagePosted && e.AsMessage()!.Id == mention.Id)
                break;
        }
        Assert.Equal(EventTypes.ConversationCreated, received[0].Type);
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (long)i), received.Select(e => e.Seq));
        Assert.Contains(bob.Id, received[^1].AsMessage()!.Mentions);
        var inbox = await bobSdk.GetInboxAsync();
        Assert.Equal(1, inbox.Items.Single(row => row.Id == conversation.Id).MentionCount);

        // Bob reads; Alice's connection is told.
        var read = new TaskCompletionSource<ReceiptNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        aliceSdk.Realtime.Receipt += notice => { if (notice.UserId == bob.Id && notice.Read == mention.Seq) read.TrySetResult(notice); };
        await aliceSdk.Realtime.StartAsync();
        await bobSdk.SendReceiptsAsync(conversation.Id, read: mention.Seq);
        var receipt = await read.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(conversation.Id, receipt.ConversationId);
    }
}
