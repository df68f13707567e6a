using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Messaging;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>The backfill's per-event replay (what a pass does with each event of Messaging's log), against the running service.</summary>
public sealed class BackfillTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    private async Task ReplayAsync(ConversationEvent e)
    {
        await using var scope = host.Factory.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IConversationLogReplay>().ReplayAsync(e, CancellationToken.None);
    }

    [Fact]
    public async Task ReplayedHistory_MakesTheConversationKnown_WithoutNotifying_ButTheSameMessageArrivingLiveIsNotifiedOnce()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var conversation = Guid.CreateVersion7();
        await ReplayAsync(NotificationsHost.Event(conversation, 1, ConversationEventTypes.ConversationCreated, alice,
            new { id = conversation, kind = "direct", title = (string?)null, members = new[] { new { userId = alice, role = "owner" }, new { userId = bob, role = "member" } } }));
        var (_, old) = await PostEventAsync(conversation, 2, alice, "from last year");
        await ReplayAsync(old);

        using var bobHttp = host.Client(bob);
        var preferences = await bobHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
            new { conversations = new[] { new { conversationId = conversation, level = "all" } } });
        Assert.Equal(HttpStatusCode.OK, preferences.StatusCode);
        Assert.Equal(0, (await host.FeedAsync(bob)).GetProperty("items").GetArrayLength());
        Assert.Empty(phone.Received);

        // Posted while the backfill ran, the message also arrives on the queue: that delivery notifies, once.
        await host.Bus.PublishAsync(old);
        await host.FeedWithAsync(bob, 1);
        await ReplayAsync(old);
        await host.Bus.PublishAsync(old);
        var (_, fresh) = await PostEventAsync(conversation, 3, alice, "today");
        await host.Bus.PublishAsync(fresh);
        var feed = await host.FeedWithAsync(bob, 2);
        Assert.Equal(2, feed.GetProperty("items").GetArrayLength());
    }

    private static Task<(Guid, ConversationEvent)> PostEventAsync(Guid conversation, long seq, Guid sender, string text)
    {
        var messageId = Guid.CreateVersion7();
        return Task.FromResult((messageId, NotificationsHost.Event(conversation, seq, ConversationEventTypes.MessagePosted, sender, new
        {
            id = messageId, conversationId = conversation, seq, senderId = sender, text, mentions = Array.Empty<Guid>(), urls = Array.Empty<string>(),
            replyTo = (Guid?)null, attachments = Array.Empty<object>(), createdAt = DateTimeOffset.UtcNow,
        })));
    }
}
