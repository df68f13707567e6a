using System.Net;
using System.Text.Json;
using Platform.Contracts.Media;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class AttachmentDetailsTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    private static MediaReady Ready(Guid mediaId, Guid ownerId) => new()
    {
        MediaId = mediaId, OwnerId = ownerId, ContentType = "image/gif", Size = 1234, Width = 64, Height = 48,
        ThumbnailUrl = $"/api/v1/media/{mediaId}/thumbnail", BlurHash = "LEHV6nWB2yk8pyo0adR*.7kCMdnj", Animated = true, ReadyAt = DateTimeOffset.UtcNow,
    };

    private static async Task<JsonElement> SendWith(ChatClient client, Guid conversation, params Guid[] attachments) =>
        await client.Json200(await client.Post($"/api/v1/conversations/{conversation}/messages",
            new { clientMessageId = Guid.NewGuid().ToString(), text = "", attachments }));

    [Fact]
    public async Task MediaReady_AfterTheMessage_AppendsAttachmentsReadyOnce_AndFillsTheMessage()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var mediaId = Guid.CreateVersion7();
        var sent = await SendWith(alice, conversation, mediaId);
        var messageId = sent.GetProperty("id").GetGuid();
        var bare = Assert.Single(sent.GetProperty("attachments").EnumerateArray());
        Assert.Equal(mediaId, bare.GetProperty("id").GetGuid());
        Assert.Equal(JsonValueKind.Null, bare.GetProperty("contentType").ValueKind);

        // Redelivered: the second copy appends nothing.
        await bus.PublishAsync(Ready(mediaId, alice.UserId));
        await bus.PublishAsync(Ready(mediaId, alice.UserId));

        ConversationEvent ready;
        do ready = await bus.NextAsync(Soon);
        while (ready.ConversationId != conversation || ready.Type != ConversationEventTypes.MessageAttachmentsReady);
        Assert.Equal(messageId, ready.Data.GetProperty("messageId").GetGuid());
        var announced = Assert.Single(ready.Data.GetProperty("attachments").EnumerateArray());
        Assert.Equal("image/gif", announced.GetProperty("contentType").GetString());
        Assert.True(announced.GetProperty("animated").GetBoolean());
        Assert.DoesNotContain(await bus.DrainAsync(TimeSpan.FromSeconds(1)), e => e.ConversationId == conversation);

        var message = await bob.Get($"/api/v1/conversations/{conversation}/messages/{messageId}");
        var attachment = Assert.Single(message.GetProperty("attachments").EnumerateArray());
        Assert.Equal(1234, attachment.GetProperty("size").GetInt64());
        Assert.Equal(64, attachment.GetProperty("width").GetInt32());
        Assert.Equal(48, attachment.GetProperty("height").GetInt32());
        Assert.Equal("LEHV6nWB2yk8pyo0adR*.7kCMdnj", attachment.GetProperty("blurHash").GetString());
        Assert.Equal($"/api/v1/media/{mediaId}/thumbnail", attachment.GetProperty("thumbnailUrl").GetString());
        var log = await bob.Get($"/api/v1/conversations/{conversation}/events?after=2");
        Assert.Equal("message.attachments-ready", Assert.Single(log.GetProperty("items").EnumerateArray()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task MessageSentAfterMediaReady_CarriesTheDetailsAtOnce()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        var mediaId = Guid.CreateVersion7();
        await using (var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString))
            await bus.PublishAsync(Ready(mediaId, alice.UserId));
        // The details arrive on their own queue; a message sent once they are stored has them in its send answer.
        var sent = await Eventually.Returns(() => SendWith(alice, conversation, mediaId),
            m => m.GetProperty("attachments")[0].GetProperty("contentType").ValueKind == JsonValueKind.String, Soon, "a send carrying the details");
        Assert.Equal("image/gif", sent.GetProperty("attachments")[0].GetProperty("contentType").GetString());
        var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after={sent.GetProperty("seq").GetInt64()}");
        var ready = Assert.Single(log.GetProperty("items").EnumerateArray());
        Assert.Equal("message.attachments-ready", ready.GetProperty("type").GetString());
    }

    [Fact]
    public async Task SomeoneElsesFile_GetsNoDetails()
    {
        var alice = host.Client();
        var mallory = host.Client();
        var conversation = await mallory.CreateGroup(alice.UserId);
        var alicesFile = Guid.CreateVersion7();
        var sent = await SendWith(mallory, conversation, alicesFile);
        await using (var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString))
        {
            await bus.PublishAsync(Ready(alicesFile, alice.UserId));
            Assert.DoesNotContain(await bus.DrainAsync(TimeSpan.FromSeconds(2)), e => e.ConversationId == conversation && e.Type == ConversationEventTypes.MessageAttachmentsReady);
        }
        var message = await mallory.Get($"/api/v1/conversations/{conversation}/messages/{sent.GetProperty("id").GetGuid()}");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("attachments")[0].GetProperty("contentType").ValueKind);
    }

    [Fact]
    public async Task DeletingTheMessage_ErasesItsAttachmentDetailsFromTheLog()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        var mediaId = Guid.CreateVersion7();
        var messageId = (await SendWith(alice, conversation, mediaId)).GetProperty("id").GetGuid();
        await using (var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString))
            await bus.PublishAsync(Ready(mediaId, alice.UserId));
        await Eventually.Returns(() => alice.Get($"/api/v1/conversations/{conversation}/events?after=2"),
            log => log.GetProperty("items").GetArrayLength() == 1, Soon, "the details are attached");

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{messageId}")).StatusCode);

        var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after=2");
        Assert.Empty(log.GetProperty("items")[0].GetProperty("data").GetProperty("attachments").EnumerateArray());
    }

    [Fact]
    public void Decide_FillsOnlyTheSendersOrTheOriginsFiles_OnceEach()
    {
        var now = DateTimeOffset.UtcNow;
        var sender = Guid.NewGuid();
        var (mine, theirs) = (Guid.NewGuid(), Guid.NewGuid());
        var message = new MessageView { Id = Guid.NewGuid(), SenderId = sender, Attachments = [mine, theirs] };
        MediaDetails Of(Guid id, Guid owner) => new() { Id = id, OwnerId = owner, Details = new AttachmentDetails(id, "image/png", 10, 1, 1, null, null, null, false) };
        var originAuthor = Guid.NewGuid();
        var known = new[] { Of(mine, sender), Of(theirs, originAuthor) };

        var ready = Assert.IsType<MessageAttachmentsReady>(Assert.Single(Attachments.Decide(message, known, null, now).Events));
        Assert.Equal(mine, Assert.Single(ready.Attachments).Id);
        var forwarded = Assert.IsType<MessageAttachmentsReady>(Assert.Single(Attachments.Decide(message, known, originAuthor, now).Events));
        Assert.Equal([mine, theirs], forwarded.Attachments.Select(a => a.Id));
        Assert.Empty(Attachments.Decide(message.Apply(3, forwarded), known, originAuthor, now).Events);
        Assert.Empty(Attachments.Decide(message with { Deleted = true }, known, null, now).Events);
        Assert.Empty(Attachments.Decide(null, known, null, now).Events);
    }
}
