using System.Net.Http.Json;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Contracts.Notifications;
using Platform.Notifications.Domain;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>
/// Notifications in-process on a fresh database and vhost, a Web Push receiver and an SMTP server standing in for the
/// outside world; the tests play Messaging, Identity and Presence by publishing their events.
/// </summary>
public class NotificationsHost() : ServiceHost<Program>("Notifications")
{
    public static readonly TimeSpan UnreadDelay = TimeSpan.FromSeconds(3);

    public BusProbe<NotificationsCreated> Bus { get; private set; } = null!;

    public SmtpReceiver Smtp { get; private set; } = null!;

    protected override async Task StartingAsync()
    {
        Smtp = Own(SmtpReceiver.Start());
        Bus = Own(await BusProbe<NotificationsCreated>.StartAsync(Infrastructure.VirtualHost.ConnectionString));
    }

    protected override void Configure(ServiceFactory<Program> factory) => factory
        // Wide enough that a burst posted one by one on a loaded machine falls into one window.
        .WithSetting("Notifications:CoalesceWindow", "00:00:01.500")
        .WithSetting("Notifications:UnreadDelay", UnreadDelay.ToString())
        .WithSetting("Notifications:SweepInterval", "00:00:00.100")
        .WithSetting("Notifications:Push:AllowedEndpointPrefixes:0", "http://127.0.0.1:")
        .WithSetting("Notifications:Invites:LinkBaseUrl", "https://chat.example.com/invite")
        .WithSetting("Notifications:Invites:Smtp:Host", "127.0.0.1")
        .WithSetting("Notifications:Invites:Smtp:Port", Smtp.Port.ToString())
        .WithSetting("Notifications:Invites:Smtp:Security", "none")
        .WithSetting("Notifications:EventBatchWindow", EventBatchWindow.ToString());

    /// <summary>How long a batch of conversation events waits for more: shorter than the service's default (50 ms), so that tests wait less.</summary>
    protected virtual TimeSpan EventBatchWindow => TimeSpan.FromMilliseconds(10);

    public HttpClient Client(Guid userId) => UserClient(userId);

    public async Task<Guid> UserAsync(string name)
    {
        var id = Guid.CreateVersion7();
        await Bus.PublishAsync(new UserRegistered { UserId = id, Username = name.ToLowerInvariant(), DisplayName = name, RegisteredAt = DateTimeOffset.UtcNow });
        return id;
    }

    /// <summary>A new Web Push receiver subscribed for the user.</summary>
    public async Task<WebPushReceiver> SubscribeAsync(Guid userId)
    {
        var receiver = Own(await WebPushReceiver.StartAsync());
        using var http = Client(userId);
        var response = await http.PostAsJsonAsync("/api/v1/push-subscriptions", new { endpoint = receiver.Endpoint, expirationTime = (double?)null, keys = new { p256dh = receiver.P256dh, auth = receiver.Auth } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return receiver;
    }

    public async Task<Guid> ConversationAsync(string kind, string? title, params Guid[] members)
    {
        var conversationId = Guid.CreateVersion7();
        await Bus.PublishAsync(Event(conversationId, 1, ConversationEventTypes.ConversationCreated, members[0],
            new { id = conversationId, kind, title, members = members.Select(m => new { userId = m, role = "member" }) }));
        return conversationId;
    }

    public async Task<(Guid MessageId, ConversationEvent Event)> PostAsync(Guid conversationId, long seq, Guid sender, string text, Guid[]? mentions = null, Guid? replyTo = null)
    {
        var messageId = Guid.CreateVersion7();
        var e = Event(conversationId, seq, ConversationEventTypes.MessagePosted, sender, new
        {
            id = messageId, conversationId, seq, senderId = sender, text, mentions = mentions ?? [], urls = Array.Empty<string>(), replyTo,
            replyCount = 0, edited = false, deleted = false, reactions = Array.Empty<object>(), attachments = Array.Empty<object>(), createdAt = DateTimeOffset.UtcNow,
        });
        await Bus.PublishAsync(e);
        return (messageId, e);
    }

    public static ConversationEvent Event(Guid conversationId, long seq, string type, Guid actorId, object data) => new()
    {
        EventId = Guid.CreateVersion7(),
        ConversationId = conversationId,
        Seq = seq,
        Type = type,
        OccurredAt = DateTimeOffset.UtcNow,
        ActorId = actorId,
        Data = JsonSerializer.SerializeToElement(data, JsonSerializerOptions.Web),
    };

    public async Task<JsonElement> FeedAsync(Guid userId)
    {
        using var http = Client(userId);
        return await http.GetFromJsonAsync<JsonElement>("/api/v1/notifications");
    }

    public Task<JsonElement> FeedWithAsync(Guid userId, int count) =>
        Eventually.Returns(() => FeedAsync(userId), feed => feed.GetProperty("items").GetArrayLength() >= count, TimeSpan.FromSeconds(15), $"{count} notifications in the feed");

    // What the service has stored: the signals a test waits for instead of sleeping.
    private async Task<T?> LoadAsync<T>(Func<IQuerySession, Task<T?>> load)
    {
        await using var session = Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await load(session);
    }

    /// <summary>Waits until the conversation event has been consumed: its marker is written with its notifications and pushes.</summary>
    public Task ConsumedAsync(Guid conversationId, long seq) =>
        Eventually.Returns(() => LoadAsync(session => session.LoadAsync<ProcessedEvent>(ProcessedEvent.KeyOf(conversationId, seq))),
            marker => marker is not null, TimeSpan.FromSeconds(15), $"event {seq} of {conversationId} is consumed");

    /// <summary>
    /// Waits until every conversation event published so far has been consumed: they are consumed in batches, one batch
    /// at a time, in the order delivered, so once one published now is, the others were too (duplicates, which leave no
    /// mark, included).
    /// </summary>
    public async Task AllEventsConsumedAsync()
    {
        var conversationId = Guid.CreateVersion7();
        var member = Guid.CreateVersion7();
        await Bus.PublishAsync(Event(conversationId, 1, ConversationEventTypes.ConversationCreated, member,
            new { id = conversationId, kind = "direct", title = (string?)null, members = new[] { new { userId = member, role = "member" } } }));
        await ConsumedAsync(conversationId, 1);
    }

    /// <summary>Waits until Presence's change (this version or a later one) of the user has been consumed.</summary>
    public Task PresenceKnownAsync(Guid userId, long version) =>
        Eventually.Returns(() => LoadAsync(session => session.LoadAsync<UserPresence>(userId)),
            presence => presence?.Version >= version, TimeSpan.FromSeconds(15), $"the presence of {userId} is known");

    /// <summary>Waits until the user's read receipt up to <paramref name="seq"/> has been consumed (with the corrections it schedules).</summary>
    public Task ReadUpToAsync(Guid userId, Guid conversationId, long seq) =>
        Eventually.Returns(() => LoadAsync(session => session.LoadAsync<ReadCursor>(ReadCursor.KeyOf(userId, conversationId))),
            cursor => cursor?.ReadSeq >= seq, TimeSpan.FromSeconds(15), $"{userId} read up to {seq}");

    /// <summary>The pushes waiting to be sent to the user (or to be given up when their due time comes).</summary>
    public async Task<IReadOnlyList<PendingPush>> PendingPushesAsync(Guid userId) =>
        await LoadAsync<IReadOnlyList<PendingPush>>(async session => await session.Query<PendingPush>().Where(p => p.UserId == userId).ToListAsync()) ?? [];

    /// <summary>
    /// Waits until no push waits for the user: each was sent (a pending push is deleted once its devices took it) or
    /// given up. What the receivers counted by then is all the user gets.
    /// </summary>
    public Task NoPushPendingAsync(Guid userId) =>
        Eventually.Returns(() => PendingPushesAsync(userId), pending => pending.Count == 0, TimeSpan.FromSeconds(15), $"no push waits for {userId}");
}
