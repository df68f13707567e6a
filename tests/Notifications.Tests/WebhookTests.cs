using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Notifications.Consumers;
using Platform.Notifications.Webhooks;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>
/// Notifications with outgoing webhooks allowed to loopback (a local receiver), retries in fractions of a second; names
/// a test controls resolve through <see cref="TestResolver"/>. The tests play Messaging by publishing its events.
/// </summary>
public class WebhookHost() : ServiceHost<Program>("Notifications")
{
    public BusProbe<UserRegistered> Bus { get; private set; } = null!;

    protected virtual string RetryFor => "00:05:00";

    protected override async Task StartingAsync() =>
        Bus = Own(await BusProbe<UserRegistered>.StartAsync(Infrastructure.VirtualHost.ConnectionString));

    protected override void Configure(ServiceFactory<Program> factory) => factory
        .WithSetting("Webhooks:AllowLoopback", "true")
        .WithSetting("Webhooks:InitialBackoff", "00:00:00.200")
        .WithSetting("Webhooks:MaxBackoff", "00:00:01")
        .WithSetting("Webhooks:RetryFor", RetryFor)
        .WithSetting("Webhooks:SweepInterval", "00:00:00.100")
        .WithSetting("Webhooks:Timeout", "00:00:03")
        .WithServices(services => services.AddSingleton<IHostResolver>(new TestResolver()));

    public HttpClient Client(Guid userId, bool platformAdmin = false) => UserClient(userId, roles: platformAdmin ? ["admin"] : null);

    public async Task<WebhookReceiver> ReceiverAsync() => Own(await WebhookReceiver.StartAsync());

    /// <summary>A group whose first member is its owner, the second an admin, the rest plain members.</summary>
    public async Task<Guid> ConversationAsync(params Guid[] members)
    {
        var conversationId = Guid.CreateVersion7();
        await Bus.PublishAsync(Event(conversationId, 1, ConversationEventTypes.ConversationCreated, members[0], new
        {
            id = conversationId, kind = "group", title = "Hooks",
            members = members.Select((m, i) => new { userId = m, role = i == 0 ? "owner" : i == 1 ? "admin" : "member" }),
        }));
        return conversationId;
    }

    public async Task<ConversationEvent> PostAsync(Guid conversationId, long seq, Guid sender, string text)
    {
        var e = Event(conversationId, seq, ConversationEventTypes.MessagePosted, sender, new
        {
            id = Guid.CreateVersion7(), conversationId, seq, senderId = sender, text, mentions = Array.Empty<Guid>(), urls = Array.Empty<string>(),
            replyCount = 0, edited = false, deleted = false, reactions = Array.Empty<object>(), attachments = Array.Empty<object>(), createdAt = DateTimeOffset.UtcNow,
        });
        await Bus.PublishAsync(e);
        return e;
    }

    public async Task<ConversationEvent> PublishAsync(Guid conversationId, long seq, string type, Guid actor, object data)
    {
        var e = Event(conversationId, seq, type, actor, data);
        await Bus.PublishAsync(e);
        return e;
    }

    public static ConversationEvent Event(Guid conversationId, long seq, string type, Guid actorId, object data) =>
        NotificationsHost.Event(conversationId, seq, type, actorId, data);

    /// <summary>Registers a webhook, waiting (briefly) for Notifications to have consumed the conversation's creation.</summary>
    public async Task<(Guid Id, string Secret)> RegisterAsync(Guid userId, Guid? conversationId, string url, params string[] events)
    {
        using var http = Client(userId, platformAdmin: conversationId is null);
        var response = await Eventually.Returns(
            () => http.PostAsJsonAsync("/api/v1/webhooks", new { url, events, conversationId }),
            r => r.StatusCode != HttpStatusCode.NotFound, TimeSpan.FromSeconds(15), "the conversation known to Notifications");
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (created.GetProperty("id").GetGuid(), created.GetProperty("secret").GetString()!);
    }

    public async Task<JsonElement> DeliveriesAsync(Guid userId, Guid webhookId)
    {
        using var http = Client(userId);
        return await http.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks/{webhookId}/deliveries");
    }

    /// <summary>
    /// <c>public.test</c> is a public address (never connected to: its webhooks are only registered); <c>internal.test</c>
    /// resolves to a private one; <c>rebind.test</c> resolves to a public address once (the registration's check), then to
    /// the cloud metadata address (DNS rebinding).
    /// </summary>
    private sealed class TestResolver : IHostResolver
    {
        private int _rebinds;

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Task.FromResult<IPAddress[]>(host switch
        {
            "public.test" => [IPAddress.Parse("93.184.215.14")],
            "internal.test" => [IPAddress.Parse("10.1.2.3")],
            "rebind.test" => Interlocked.Increment(ref _rebinds) == 1 ? [IPAddress.Parse("93.184.215.14")] : [IPAddress.Parse("169.254.169.254")],
            "localhost" => [IPAddress.Loopback],
            _ => throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound),
        });
    }
}

/// <summary>Retries give up after 2 s, to see a delivery fail and its webhook disabled.</summary>
public sealed class ShortRetryWebhookHost : WebhookHost
{
    protected override string RetryFor => "00:00:02";
}

public sealed class WebhookTests(WebhookHost host) : IClassFixture<WebhookHost>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Delivery_IsTheHubEnvelope_SignedSoTheReceiverCanVerifyIt()
    {
        var (owner, admin) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, admin);
        var receiver = await host.ReceiverAsync();
        var (webhookId, secret) = await host.RegisterAsync(admin, conversationId, receiver.Url, "message.posted");
        receiver.VerifyWith(secret);
        Assert.StartsWith("whsec_", secret);

        var posted = await host.PostAsync(conversationId, 2, owner, "hello hooks");

        var delivery = (await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 1, Wait, "one delivery")).Single();
        Assert.Empty(receiver.Rejected);
        Assert.Equal(posted.EventId.ToString(), delivery.EventId);
        var body = delivery.Json;
        Assert.Equal(["conversationId", "seq", "type", "occurredAt", "actorId", "data"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(conversationId.ToString(), body.GetProperty("conversationId").GetString());
        Assert.Equal(2, body.GetProperty("seq").GetInt64());
        Assert.Equal("message.posted", body.GetProperty("type").GetString());
        Assert.Equal(owner.ToString(), body.GetProperty("actorId").GetString());
        Assert.Equal("hello hooks", body.GetProperty("data").GetProperty("text").GetString());
        // The same bytes under another secret, or another body under this one, do not verify.
        Assert.NotNull(WebhookReceiver.Verify(delivery.Signature, delivery.Body, ["whsec_other"], DateTimeOffset.UtcNow));
        Assert.NotNull(WebhookReceiver.Verify(delivery.Signature, delivery.Body.Replace("hello", "HELLO"), [secret], DateTimeOffset.UtcNow));

        var log = await Eventually.Returns(() => host.DeliveriesAsync(admin, webhookId),
            l => l.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("status").GetString() == "delivered"), Wait, "the delivery logged");
        var item = log.GetProperty("items")[0];
        Assert.Equal(posted.EventId, item.GetProperty("eventId").GetGuid());
        Assert.Equal("message.posted", item.GetProperty("type").GetString());
        Assert.Equal(1, item.GetProperty("attempts").GetInt32());
        Assert.Equal(204, item.GetProperty("statusCode").GetInt32());
    }

    [Fact]
    public async Task ReceiverOutage_IsRetried_WithoutLossOrReordering()
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        var receiver = await host.ReceiverAsync();
        var (webhookId, secret) = await host.RegisterAsync(owner, conversationId, receiver.Url, "message.posted", "message.edited");
        receiver.VerifyWith(secret);
        await host.PostAsync(conversationId, 2, owner, "before");
        await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 1, Wait, "the first delivery");

        // Down: connections refused, then errors; five events wait meanwhile, the first one retried.
        await receiver.StopAsync();
        var posted = new List<ConversationEvent>();
        for (var seq = 3; seq <= 7; seq++)
            posted.Add(await host.PostAsync(conversationId, seq, owner, $"during {seq}"));
        await Eventually.Returns(() => host.DeliveriesAsync(owner, webhookId),
            l => l.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("attempts").GetInt32() >= 2), Wait, "retries while the receiver is down");
        await receiver.RestartAsync();
        receiver.AnswerNext(500, 503);

        var unique = await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 6, Wait, "every event delivered");
        Assert.Equal([2, 3, 4, 5, 6, 7], unique.Select(r => r.Json.GetProperty("seq").GetInt64()));
        // Redeliveries, if any, carry the same event id and body; nothing arrives out of order.
        Assert.All(receiver.Received.GroupBy(r => r.EventId), g => Assert.Single(g.Select(r => r.Body).Distinct()));
        var arrival = receiver.Received.Select(r => r.Json.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(arrival.Order(), arrival);
        Assert.Empty(receiver.Rejected);

        var log = (await host.DeliveriesAsync(owner, webhookId)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(6, log.Count);
        Assert.All(log, i => Assert.Equal("delivered", i.GetProperty("status").GetString()));
        var first = log.Single(i => i.GetProperty("seq").GetInt64() == 3);
        Assert.True(first.GetProperty("attempts").GetInt32() >= 4, first.ToString()); // refused at least once, 500, 503, then delivered

        // Deliveries, retries and the queue's age are exported with the service's other metrics.
        using var http = host.Factory.CreateClient();
        var metrics = await Eventually.Returns(() => http.GetStringAsync("/metrics"),
            text => text.Contains("platform_notifications_webhook_deliveries") && text.Contains("platform_notifications_webhook_queue_age"), Wait, "webhook metrics");
        Assert.Contains("result=\"retry\"", metrics);
        Assert.Contains("result=\"delivered\"", metrics);
    }

    [Fact]
    public async Task AnEventConsumedBeforeAnEarlierOne_WaitsForIt_AsWhenTwoReplicasRace()
    {
        var owner = Guid.CreateVersion7();
        var (conversationId, other) = (await host.ConversationAsync(owner), await host.ConversationAsync(owner));
        var receiver = await host.ReceiverAsync();
        var (webhookId, secret) = await host.RegisterAsync(owner, conversationId, receiver.Url, "message.posted");
        var (_, otherSecret) = await host.RegisterAsync(owner, other, receiver.Url, "message.posted");
        receiver.VerifyWith(secret, otherSecret);
        await host.PostAsync(conversationId, 2, owner, "first");
        await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 1, Wait, "the first delivery");

        // Seq 4 is consumed while seq 3 is not yet (as when another replica is still on it): 4 is queued but held.
        await host.PostAsync(conversationId, 4, owner, "overtaking");
        await Eventually.Returns(() => host.DeliveriesAsync(owner, webhookId), l => l.GetProperty("items").GetArrayLength() == 2, Wait, "seq 4 queued");
        // A delivery queued after it in another conversation goes out: the dispatcher looked at seq 4 and left it.
        await host.PostAsync(other, 2, owner, "elsewhere");
        await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Any(d => d.Json.GetProperty("conversationId").GetString() == other.ToString()),
            Wait, "the other conversation's delivery");
        Assert.DoesNotContain(receiver.Unique, d => d.Json.GetProperty("seq").GetInt64() == 4);

        await host.PostAsync(conversationId, 3, owner, "late");
        var sent = await Eventually.Returns(
            () => Task.FromResult(receiver.Unique.Where(d => d.Json.GetProperty("conversationId").GetString() == conversationId.ToString()).ToList()),
            r => r.Count >= 3, Wait, "seq 3 and then seq 4");
        Assert.Equal([2L, 3L, 4L], sent.Select(d => d.Json.GetProperty("seq").GetInt64()));
        Assert.Empty(receiver.Rejected);
    }

    [Fact]
    public async Task RotateSecret_SignsWithTheNewAndTheOldSecret_DuringTheGracePeriod()
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        var receiver = await host.ReceiverAsync();
        var (webhookId, oldSecret) = await host.RegisterAsync(owner, conversationId, receiver.Url, "message.posted");
        receiver.VerifyWith(oldSecret);

        using var http = host.Client(owner);
        var response = await http.PostAsync($"/api/v1/webhooks/{webhookId}/rotate-secret", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rotated = await response.Content.ReadFromJsonAsync<JsonElement>();
        var newSecret = rotated.GetProperty("secret").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);
        Assert.True(rotated.GetProperty("previousSecretExpiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddHours(23));

        await host.PostAsync(conversationId, 2, owner, "after rotation");

        var delivery = (await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 1, Wait, "a delivery")).Single();
        Assert.Equal(2, delivery.Signature.Split(',').Count(p => p.StartsWith("v1=", StringComparison.Ordinal)));
        Assert.Null(WebhookReceiver.Verify(delivery.Signature, delivery.Body, [oldSecret], DateTimeOffset.UtcNow));
        Assert.Null(WebhookReceiver.Verify(delivery.Signature, delivery.Body, [newSecret], DateTimeOffset.UtcNow));
    }

    [Theory]
    [InlineData("https://10.0.0.1/hook")]
    [InlineData("https://192.168.1.10/hook")]
    [InlineData("https://172.16.5.4:8443/hook")]
    [InlineData("https://169.254.169.254/latest/meta-data/")]
    [InlineData("https://100.64.0.1/hook")]
    [InlineData("https://[::ffff:10.0.0.1]/hook")]
    [InlineData("https://[fd00::1]/hook")]
    [InlineData("https://[fe80::1]/hook")]
    [InlineData("https://0.0.0.0/hook")]
    [InlineData("https://internal.test/hook")]
    [InlineData("https://no-such-host.test/hook")]
    [InlineData("http://public.test/hook")]
    [InlineData("https://user:password@public.test/hook")]
    [InlineData("ftp://public.test/hook")]
    [InlineData("/relative")]
    public async Task Register_AnInternalOrInvalidUrl_Is400(string url)
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        using var http = host.Client(owner);

        var response = await Eventually.Returns(() => http.PostAsJsonAsync("/api/v1/webhooks", new { url, events = new[] { "message.posted" }, conversationId }),
            r => r.StatusCode != HttpStatusCode.NotFound, Wait, "the conversation known");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public void UrlRules_WithoutLoopbackAllowed_RefuseLoopback()
    {
        var policy = new AddressPolicy(null, []);
        Assert.NotNull(WebhookUrls.Check("https://127.0.0.1/hook", policy, allowLoopback: false));
        Assert.NotNull(WebhookUrls.Check("https://[::1]:8443/hook", policy, allowLoopback: false));
        Assert.NotNull(WebhookUrls.Check("https://localhost/hook", policy, allowLoopback: false));
        Assert.NotNull(WebhookUrls.Check("http://127.0.0.1:8080/hook", policy, allowLoopback: false));
        Assert.Null(WebhookUrls.Check("https://hooks.example.com/in", policy, allowLoopback: false));
        Assert.Null(WebhookUrls.Check("https://93.184.215.14:9000/in", policy, allowLoopback: false));
    }

    [Fact]
    public async Task Connect_ToANameThatNowResolvesInternally_IsRefused_AndLogged()
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        var (webhookId, _) = await host.RegisterAsync(owner, conversationId, "https://rebind.test/hook", "message.posted");

        await host.PostAsync(conversationId, 2, owner, "to the metadata service?");

        var log = await Eventually.Returns(() => host.DeliveriesAsync(owner, webhookId),
            l => l.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("attempts").GetInt32() >= 1), Wait, "an attempt logged");
        var item = log.GetProperty("items")[0];
        Assert.Equal("pending", item.GetProperty("status").GetString());
        Assert.Contains("may be reached", item.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Webhooks_AreForAdminsAndOwners_AndNobodyElseLearnsOfThem()
    {
        var (owner, admin, member, outsider) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, admin, member);
        var (webhookId, _) = await host.RegisterAsync(owner, conversationId, "https://public.test/hook", "message.posted");
        object Request(Guid? conversation) => new { url = "https://public.test/hook", events = new[] { "message.posted" }, conversationId = conversation };

        using (var http = host.Client(member))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsJsonAsync("/api/v1/webhooks", Request(conversationId))).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"/api/v1/webhooks?conversationId={conversationId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/v1/webhooks/{webhookId}/deliveries")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync($"/api/v1/webhooks/{webhookId}/rotate-secret", null)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/v1/webhooks/{webhookId}")).StatusCode);
            // Every conversation: platform admins only.
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsJsonAsync("/api/v1/webhooks", Request(null))).StatusCode);
        }
        using (var http = host.Client(outsider))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsJsonAsync("/api/v1/webhooks", Request(conversationId))).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/v1/webhooks?conversationId={conversationId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/v1/webhooks/{webhookId}/deliveries")).StatusCode);
            Assert.Empty((await http.GetFromJsonAsync<JsonElement>("/api/v1/webhooks")).GetProperty("items").EnumerateArray());
        }
        using (var http = host.Client(admin))
        {
            var listed = await http.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks?conversationId={conversationId}");
            var hook = Assert.Single(listed.GetProperty("items").EnumerateArray());
            Assert.Equal(webhookId, hook.GetProperty("id").GetGuid());
            Assert.False(hook.TryGetProperty("secret", out _));
            Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://public.test/hook", events = new[] { "message.exploded" }, conversationId })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://public.test/hook", events = Array.Empty<string>(), conversationId })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"/api/v1/webhooks/{webhookId}/deliveries?cursor=abc")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/v1/webhooks/{webhookId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/v1/webhooks/{webhookId}")).StatusCode);
        }
        using (var http = host.Client(outsider, platformAdmin: true))
        {
            // Every conversation's calls (none happen here: public.test is a real public address), deleted again at once.
            var everywhere = await http.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://public.test/hook", events = new[] { "call.ended" } });
            Assert.Equal(HttpStatusCode.Created, everywhere.StatusCode);
            var id = (await everywhere.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/v1/webhooks/{id}")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Factory.CreateClient().GetAsync("/api/v1/webhooks")).StatusCode);
    }

    [Fact]
    public async Task OnlyChosenTypes_AsMembersSeeThem_AndADeletedMessagesTextNever()
    {
        var (owner, admin) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, admin);
        var receiver = await host.ReceiverAsync();
        var (webhookId, secret) = await host.RegisterAsync(admin, conversationId, receiver.Url, "message.posted", "message.deleted", "message.reported");
        receiver.VerifyWith(secret);
        await receiver.StopAsync();

        var secretMessage = await host.PostAsync(conversationId, 2, owner, "regrettable text");
        var messageId = secretMessage.Data.GetProperty("id").GetGuid();
        await host.PublishAsync(conversationId, 3, ConversationEventTypes.ReactionAdded, owner, new { messageId, emoji = "👍", userId = owner });
        await host.PublishAsync(conversationId, 4, ConversationEventTypes.MessageReported, admin,
            new { reportId = Guid.CreateVersion7(), messageId, reportedBy = admin, reason = "spam" });
        await host.PublishAsync(conversationId, 5, ConversationEventTypes.MessageDeleted, owner, new { messageId, reason = "author" });
        await Eventually.Returns(() => host.DeliveriesAsync(admin, webhookId), l => l.GetProperty("items").GetArrayLength() >= 3, Wait, "three queued");
        await receiver.RestartAsync();

        var unique = await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 3, Wait, "three deliveries");
        Assert.Equal(["message.posted", "message.reported", "message.deleted"], unique.Select(r => r.Json.GetProperty("type").GetString()));
        Assert.All(receiver.Received, r => Assert.DoesNotContain("regrettable", r.Body));
        var posted = unique[0].Json.GetProperty("data");
        Assert.True(posted.GetProperty("deleted").GetBoolean());
        Assert.Equal(messageId, posted.GetProperty("id").GetGuid());
        var report = unique[1].Json;
        Assert.Equal(["reportId"], report.GetProperty("data").EnumerateObject().Select(p => p.Name));
        Assert.Equal(Guid.Empty, report.GetProperty("actorId").GetGuid());
    }

    [Fact]
    public async Task ADemotedOrDepartedOwner_sWebhook_SendsNothingMore()
    {
        var (owner, admin) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, admin);
        var receiver = await host.ReceiverAsync();
        var (_, secret) = await host.RegisterAsync(admin, conversationId, receiver.Url, "message.posted", "member.role-changed");
        receiver.VerifyWith(secret);

        await host.PublishAsync(conversationId, 2, ConversationEventTypes.MemberRoleChanged, owner, new { userId = admin, role = "member" });
        await host.PostAsync(conversationId, 3, owner, "not for the former admin's webhook");
        await host.PostAsync(conversationId, 4, owner, "nor this");
        var other = await host.ReceiverAsync();
        var (_, otherSecret) = await host.RegisterAsync(owner, conversationId, other.Url, "message.posted");
        other.VerifyWith(otherSecret);
        await host.PostAsync(conversationId, 5, owner, "witnessed");
        await Eventually.Returns(() => Task.FromResult(other.Unique), r => r.Count >= 1, Wait, "the owner's webhook received seq 5");

        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task AnErasedUser_sWebhooksGo_AndTheirQueuedWordsAreNotSent()
    {
        var (owner, admin) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, admin);
        // (Never sent to: no member joins. public.test is a real public address.)
        var (ownersHook, _) = await host.RegisterAsync(owner, conversationId, "https://public.test/hook", "member.joined");
        var receiver = await host.ReceiverAsync();
        var (adminsHook, secret) = await host.RegisterAsync(admin, conversationId, receiver.Url, "message.posted");
        receiver.VerifyWith(secret);
        await receiver.StopAsync();
        await host.PostAsync(conversationId, 2, owner, "words of someone about to leave");
        await Eventually.Returns(() => host.DeliveriesAsync(admin, adminsHook), l => l.GetProperty("items").GetArrayLength() == 1, Wait, "queued");

        await host.Bus.PublishAsync(new UserDeleted { UserId = owner, DeletedAt = DateTimeOffset.UtcNow });

        using var http = host.Client(admin);
        await Eventually.Returns(() => http.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks?conversationId={conversationId}"),
            l => l.GetProperty("items").GetArrayLength() == 1, Wait, "the erased owner's webhook deleted");
        Assert.Equal(adminsHook, (await http.GetFromJsonAsync<JsonElement>($"/api/v1/webhooks?conversationId={conversationId}")).GetProperty("items")[0].GetProperty("id").GetGuid());
        Assert.NotEqual(ownersHook, adminsHook);
        await receiver.RestartAsync();
        var delivered = (await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 1, Wait, "the delivery")).Single();
        Assert.DoesNotContain("about to leave", delivered.Body);
        Assert.True(delivered.Json.GetProperty("data").GetProperty("deleted").GetBoolean());
    }

    [Fact]
    public async Task AWebhookForEveryConversation_Stops_WhenItsOwnerIsNoLongerAPlatformAdmin_OrIsDisabled()
    {
        var (owner, former, disabled) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        var conversationId = await host.ConversationAsync(owner, former);
        var everywhere = await host.ReceiverAsync();
        var (everywhereHook, everywhereSecret) = await host.RegisterAsync(former, null, everywhere.Url, "message.posted");
        everywhere.VerifyWith(everywhereSecret);
        var another = await host.ReceiverAsync();
        var (disabledHook, _) = await host.RegisterAsync(disabled, null, another.Url, "message.posted");
        var own = await host.ReceiverAsync();
        var (ownHook, ownSecret) = await host.RegisterAsync(former, conversationId, own.Url, "message.posted");
        own.VerifyWith(ownSecret);
        await host.PostAsync(conversationId, 2, owner, "before");
        await Eventually.Returns(() => Task.FromResult(everywhere.Unique), r => r.Any(d => d.Json.GetProperty("seq").GetInt64() == 2), Wait, "the webhook for every conversation works");
        await everywhere.StopAsync();
        await host.PostAsync(conversationId, 3, owner, "queued while the receiver is away");
        await Eventually.Returns(() => host.DeliveriesAsync(former, everywhereHook), l => l.GetProperty("items").GetArrayLength() == 2, Wait, "queued");

        // A token issued while they were an admin, used after the role went but before the session revocation arrives
        // (this test publishes none, so only the role change can refuse it).
        using var staleAdmin = host.Client(former, platformAdmin: true);
        // Still an admin: nothing changes. Then the role goes, and another admin's account is disabled.
        await host.Bus.PublishAsync(new UserRolesChanged { UserId = former, Roles = ["admin"], ChangedBy = owner, ChangedAt = DateTimeOffset.UtcNow });
        await host.Bus.PublishAsync(new UserRolesChanged { UserId = former, Roles = [], ChangedBy = owner, ChangedAt = DateTimeOffset.UtcNow });
        await host.Bus.PublishAsync(new UserDisabled { UserId = disabled, DisabledBy = owner, DisabledAt = DateTimeOffset.UtcNow });

        var mine = await Eventually.Returns(() => Webhooks(former), l => Disabled(l, everywhereHook), Wait, "the former admin's webhook for every conversation disabled");
        Assert.Equal(WebhookOwnerConsumer.NotAdminReason, mine.Single(w => w.GetProperty("id").GetGuid() == everywhereHook).GetProperty("disabledReason").GetString());
        Assert.False(Disabled(mine, ownHook), "the webhook for the conversation they still administer goes on");
        // (The disabled user's token is refused now: the store tells.)
        var store = host.Factory.Services.GetRequiredService<WebhookStore>();
        var stopped = await Eventually.Returns(() => store.GetAsync(disabledHook, CancellationToken.None), w => w?.DisabledAt is not null, Wait, "the disabled admin's webhook disabled");
        Assert.Equal(WebhookOwnerConsumer.DisabledReason, stopped!.DisabledReason);
        var log = (await host.DeliveriesAsync(former, everywhereHook)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["failed", "delivered"], log.Select(d => d.GetProperty("status").GetString()));

        var late = await host.ReceiverAsync();
        var refused = await staleAdmin.PostAsJsonAsync("/api/v1/webhooks", new { url = late.Url, events = new[] { "message.posted" }, conversationId = (Guid?)null });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        await everywhere.RestartAsync();
        await host.PostAsync(conversationId, 4, owner, "after");
        await Eventually.Returns(() => Task.FromResult(own.Unique), r => r.Any(d => d.Json.GetProperty("seq").GetInt64() == 4), Wait, "the conversation's webhook got seq 4");
        Assert.Equal([2L], everywhere.Unique.Where(d => d.Json.GetProperty("conversationId").GetGuid() == conversationId).Select(d => d.Json.GetProperty("seq").GetInt64()));
        Assert.Empty(late.Unique);

        // Made an admin again: their tokens that say so may register again.
        await host.Bus.PublishAsync(new UserRolesChanged { UserId = former, Roles = ["admin"], ChangedBy = owner, ChangedAt = DateTimeOffset.UtcNow });
        await Eventually.Returns(() => staleAdmin.PostAsJsonAsync("/api/v1/webhooks", new { url = late.Url, events = new[] { "message.posted" }, conversationId = (Guid?)null }),
            r => r.StatusCode == HttpStatusCode.Created, Wait, "registered again once the role is back");
    }

    private async Task<List<JsonElement>> Webhooks(Guid userId)
    {
        using var http = host.Client(userId);
        return (await http.GetFromJsonAsync<JsonElement>("/api/v1/webhooks")).GetProperty("items").EnumerateArray().ToList();
    }

    private static bool Disabled(List<JsonElement> webhooks, Guid id) =>
        webhooks.Single(w => w.GetProperty("id").GetGuid() == id).GetProperty("disabled").GetBoolean();
}

/// <summary>Its own Notifications, which the test restarts.</summary>
public sealed class RestartedWebhookHost : WebhookHost;

public sealed class WebhookDurabilityTests(RestartedWebhookHost host) : IClassFixture<RestartedWebhookHost>
{
    [Fact]
    public async Task QueuedDeliveries_SurviveARestart_AndTwoReplicasSendEachExactlyOnce_InOrder()
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        var receiver = await host.ReceiverAsync();
        var (webhookId, secret) = await host.RegisterAsync(owner, conversationId, receiver.Url, "message.posted");
        receiver.VerifyWith(secret);
        await receiver.StopAsync();
        for (var seq = 2; seq <= 9; seq++)
            await host.PostAsync(conversationId, seq, owner, $"queued {seq}");
        await Eventually.Returns(() => host.DeliveriesAsync(owner, webhookId), l => l.GetProperty("items").GetArrayLength() == 8, TimeSpan.FromSeconds(20), "eight queued");

        // Notifications restarts with the receiver still down, and a second replica joins: both dispatch from one queue.
        await host.RestartAsync();
        await using var second = host.NewFactory();
        (await host.StartAsync(second)).Dispose();
        await receiver.RestartAsync();

        var unique = await Eventually.Returns(() => Task.FromResult(receiver.Unique), r => r.Count >= 8, TimeSpan.FromSeconds(20), "every queued event delivered");
        Assert.Equal(Enumerable.Range(2, 8).Select(i => (long)i), unique.Select(r => r.Json.GetProperty("seq").GetInt64()));
        // Nothing was being sent when it stopped (the receiver was down), so each event went out exactly once.
        Assert.Equal(8, receiver.Received.Count);
        Assert.Empty(receiver.Rejected);
    }
}

public sealed class WebhookGiveUpTests(ShortRetryWebhookHost host) : IClassFixture<ShortRetryWebhookHost>
{
    [Fact]
    public async Task ADeliveryFailingForRetryFor_IsMarkedFailed_AndItsWebhookDisabled()
    {
        var owner = Guid.CreateVersion7();
        var conversationId = await host.ConversationAsync(owner);
        var receiver = await host.ReceiverAsync();
        var (webhookId, _) = await host.RegisterAsync(owner, conversationId, receiver.Url, "message.posted");
        await receiver.StopAsync();

        await host.PostAsync(conversationId, 2, owner, "one");
        await host.PostAsync(conversationId, 3, owner, "two");

        var log = await Eventually.Returns(() => host.DeliveriesAsync(owner, webhookId),
            l => l.GetProperty("items").GetArrayLength() == 2 && l.GetProperty("items").EnumerateArray().All(i => i.GetProperty("status").GetString() == "failed"),
            TimeSpan.FromSeconds(20), "both failed");
        Assert.All(log.GetProperty("items").EnumerateArray(), i => Assert.False(string.IsNullOrEmpty(i.GetProperty("error").GetString())));
        using var http = host.Client(owner);
        var hook = (await http.GetFromJsonAsync<JsonElement>("/api/v1/webhooks")).GetProperty("items")[0];
        Assert.True(hook.GetProperty("disabled").GetBoolean());
        Assert.Contains("failed", hook.GetProperty("disabledReason").GetString());

        await receiver.RestartAsync();
        var witness = await host.ReceiverAsync();
        var (_, witnessSecret) = await host.RegisterAsync(owner, conversationId, witness.Url, "message.posted");
        witness.VerifyWith(witnessSecret);
        await host.PostAsync(conversationId, 4, owner, "after");
        await Eventually.Returns(() => Task.FromResult(witness.Unique), r => r.Count >= 1, TimeSpan.FromSeconds(20), "seq 4 handled");
        Assert.Equal(2, (await host.DeliveriesAsync(owner, webhookId)).GetProperty("items").GetArrayLength());
        Assert.Equal(0, receiver.Requests);
    }
}
