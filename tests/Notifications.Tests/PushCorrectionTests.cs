using System.Text.Json;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>A push already delivered stays true: edits, deletes, reads elsewhere and retention update or withdraw it, under the same Topic.</summary>
public sealed class PushCorrectionTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    private static async Task<(JsonElement Payload, string Topic)> PushNumberAsync(WebPushReceiver receiver, int number)
    {
        await Eventually.Returns(() => Task.FromResult(receiver.Received.Count), count => count >= number, Soon, $"push {number} arrives and decrypts");
        return (receiver.Received.ElementAt(number - 1), receiver.Topics.ElementAt(number - 1));
    }

    private async Task<(Guid Alice, Guid Bob, WebPushReceiver Phone, Guid Conversation, Guid MessageId, string Topic)> DeliveredAsync(string text)
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        var (messageId, _) = await host.PostAsync(conversation, 2, alice, text);
        var (first, topic) = await PushNumberAsync(phone, 1);
        Assert.Equal(text, first.GetProperty("body").GetString());
        Assert.Equal("show", first.GetProperty("action").GetString());
        Assert.Equal(conversation.ToString("N"), topic);
        Assert.Equal(topic, first.GetProperty("tag").GetString());
        return (alice, bob, phone, conversation, messageId, topic);
    }

    [Fact]
    public async Task AnEdit_ReplacesTheDeliveredPushText_ThenADelete_WithdrawsIt_UnderTheSameTopic()
    {
        var (alice, _, phone, conversation, messageId, topic) = await DeliveredAsync("Meet at 5");

        await host.Bus.PublishAsync(NotificationsHost.Event(conversation, 3, ConversationEventTypes.MessageEdited, alice,
            new { messageId, text = "Meet at 6", mentions = Array.Empty<Guid>(), urls = Array.Empty<string>(), editedAt = DateTimeOffset.UtcNow }));
        var (updated, updatedTopic) = await PushNumberAsync(phone, 2);
        Assert.Equal(topic, updatedTopic);
        Assert.Equal("update", updated.GetProperty("action").GetString());
        Assert.Equal("Meet at 6", updated.GetProperty("body").GetString());

        await host.Bus.PublishAsync(NotificationsHost.Event(conversation, 4, ConversationEventTypes.MessageDeleted, alice, new { messageId, reason = "deleted" }));
        var (withdrawn, withdrawnTopic) = await PushNumberAsync(phone, 3);
        Assert.Equal(topic, withdrawnTopic);
        Assert.Equal("withdraw", withdrawn.GetProperty("action").GetString());
        Assert.DoesNotContain("Meet at", withdrawn.GetRawText());
        Assert.Empty(phone.Rejected);
    }

    [Fact]
    public async Task AReadOnAnotherDevice_WithdrawsTheDeliveredPush_Once()
    {
        var (_, bob, phone, conversation, _, topic) = await DeliveredAsync("Are you there?");

        var read = new ReceiptsChanged { ConversationId = conversation, UserId = bob, ReadSeq = 2, ChangedAt = DateTimeOffset.UtcNow };
        await host.Bus.PublishAsync(read);
        var (withdrawn, withdrawnTopic) = await PushNumberAsync(phone, 2);
        Assert.Equal(topic, withdrawnTopic);
        Assert.Equal("withdraw", withdrawn.GetProperty("action").GetString());
        Assert.Equal(conversation, withdrawn.GetProperty("conversationId").GetGuid());

        // Read again (another device, the feed): nothing is shown any more, so nothing more is sent.
        await host.Bus.PublishAsync(read with { ReadSeq = 3 });
        await host.ReadUpToAsync(bob, conversation, 3);
        await host.NoPushPendingAsync(bob);
        Assert.Equal(2, phone.Requests);
    }

    [Fact]
    public async Task RetentionDeletingTheMessage_WithdrawsTheDeliveredPush()
    {
        var (alice, _, phone, conversation, messageId, topic) = await DeliveredAsync("This expires");

        await host.Bus.PublishAsync(NotificationsHost.Event(conversation, 3, ConversationEventTypes.MessageDeleted, Guid.Empty, new { messageId, reason = "retention" }));
        var (withdrawn, withdrawnTopic) = await PushNumberAsync(phone, 2);
        Assert.Equal(topic, withdrawnTopic);
        Assert.Equal("withdraw", withdrawn.GetProperty("action").GetString());
        Assert.DoesNotContain("expires", withdrawn.GetRawText());
    }
}
