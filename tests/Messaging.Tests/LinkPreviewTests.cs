using System.Net;
using Platform.Contracts.Media;
using Platform.Contracts.Messaging;
using Platform.Messaging.Consumers;
using Platform.Messaging.Domain;
using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class LinkPreviewTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task LinkPreviewReady_IsAppendedToTheLogOnce_AndShownOnTheMessage()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var sent = await alice.Send(conversation, "look https://example.com/otters");
        var messageId = sent.GetProperty("id").GetGuid();
        var preview = new LinkPreviewReady
        {
            ConversationId = conversation,
            MessageId = messageId,
            Url = "https://example.com/otters",
            Title = "Otters hold hands",
            Description = "While sleeping.",
            ImageUrl = "https://example.com/otters.jpg",
            SiteName = "Nature",
            FetchedAt = DateTimeOffset.UtcNow,
        };

        // Redelivered: the second copy appends nothing.
        await bus.PublishAsync(preview);
        await bus.PublishAsync(preview);

        ConversationEvent attached;
        do attached = await bus.NextAsync();
        while (attached.ConversationId != conversation || attached.Type != ConversationEventTypes.LinkPreviewAttached);
        Assert.Equal(3, attached.Seq);
        Assert.Equal(messageId, attached.Data.GetProperty("messageId").GetGuid());
        Assert.Equal("Otters hold hands", attached.Data.GetProperty("title").GetString());
        Assert.DoesNotContain(await bus.DrainAsync(TimeSpan.FromSeconds(1)), e => e.ConversationId == conversation);

        var message = await bob.Get($"/api/v1/conversations/{conversation}/messages/{messageId}");
        var shown = Assert.Single(message.GetProperty("linkPreviews").EnumerateArray());
        Assert.Equal("https://example.com/otters.jpg", shown.GetProperty("imageUrl").GetString());
        var log = await bob.Get($"/api/v1/conversations/{conversation}/events?after=2");
        Assert.Equal("link-preview.attached", Assert.Single(log.GetProperty("items").EnumerateArray()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task DeletingTheMessage_ErasesItsPreviewFromTheLog()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        var messageId = (await alice.Send(conversation, "see https://example.com/secret")).GetProperty("id").GetGuid();
        await using (var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString))
            await bus.PublishAsync(new LinkPreviewReady
            {
                ConversationId = conversation, MessageId = messageId, Url = "https://example.com/secret", Title = "Secret page", FetchedAt = DateTimeOffset.UtcNow,
            });
        await Eventually.Returns(() => alice.Get($"/api/v1/conversations/{conversation}/events?after=2"),
            log => log.GetProperty("items").GetArrayLength() == 1, TimeSpan.FromSeconds(15), "the preview is attached");

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{messageId}")).StatusCode);

        var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after=2");
        var preview = log.GetProperty("items")[0].GetProperty("data");
        Assert.Equal("", preview.GetProperty("url").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, preview.GetProperty("title").ValueKind);
    }

    [Fact]
    public void Decide_AttachesOnlyUrlsTheLiveMessageHolds_OncePerUrl()
    {
        var now = DateTimeOffset.UtcNow;
        var message = new MessageView { Id = Guid.NewGuid(), Urls = ["https://a.example/"] };
        LinkPreviewReady For(string url) => new() { ConversationId = Guid.NewGuid(), MessageId = message.Id, Url = url, Title = "T", ImageUrl = "javascript:alert(1)", FetchedAt = now };

        var attached = Assert.IsType<LinkPreviewAttached>(Assert.Single(LinkPreviewConsumer.Decide(message, For("https://a.example/"), now).Events));
        Assert.Null(attached.ImageUrl);
        Assert.Empty(LinkPreviewConsumer.Decide(message, For("https://other.example/"), now).Events);
        Assert.Empty(LinkPreviewConsumer.Decide(message with { Deleted = true }, For("https://a.example/"), now).Events);
        Assert.Empty(LinkPreviewConsumer.Decide(message.Apply(5, attached), For("https://a.example/"), now).Events);
        Assert.Empty(LinkPreviewConsumer.Decide(null, For("https://a.example/"), now).Events);
    }
}
