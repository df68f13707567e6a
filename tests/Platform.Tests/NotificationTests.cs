using System.Net;

namespace Platform.Tests;

/// <summary>
/// Messaging, Notifications and the Gateways on one broker: every posted message of a new conversation reaches the feed,
/// and each member it notifies gets it live, whichever Gateway holds the connection.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class NotificationTests(WholePlatform platform)
{
    [Fact]
    public async Task EachOf20NewConversations_PutsOneNotificationInTheOtherMembersFeed()
    {
        var alice = await platform.SignUpAsync("Alice Starts Many");
        var bob = await platform.SignUpAsync("Bob Is Told");

        // At once, as a busy user would: each conversation's creation and message race the others' on the bus.
        var conversations = await Task.WhenAll(Enumerable.Range(1, 20).Select(async i =>
        {
            var id = (await platform.CreateConversationAsync(alice, "group", [bob], $"topic {i}")).GetProperty("id").GetGuid();
            await platform.SendAsync(alice, id, $"first message of topic {i}");
            return id;
        }));

        var feed = await platform.EventuallyAsync(
            async () => await platform.ReadAsync(await bob.Http.GetAsync("api/v1/notifications?limit=100"), HttpStatusCode.OK, "reading the feed", platform.Notifications),
            page => page.GetProperty("items").GetArrayLength() >= conversations.Length,
            "Bob's feed has a notification for each of the 20 conversations", platform.Notifications, platform.Messaging);
        Assert.Equal(conversations.Order(), feed.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("conversationId").GetGuid()).Order());
    }

    [Fact]
    public async Task AMessageInAGroup_ReachesEachNotifiedMemberLive_OnEitherGateway()
    {
        var alice = await platform.SignUpAsync("Alice Tells Two");
        var bob = await platform.SignUpAsync("Bob Hears");
        var carol = await platform.SignUpAsync("Carol Hears");
        var conversation = (await platform.CreateConversationAsync(alice, "group", [bob, carol], "the two of you")).GetProperty("id").GetGuid();
        // Notifications publishes the notifications of one message together; each Gateway hands each to its user.
        await using var bobLive = await platform.ConnectAsync(bob, platform.Gateway1);
        await using var carolLive = await platform.ConnectAsync(carol, platform.Gateway2);
        await using var aliceLive = await platform.ConnectAsync(alice, platform.Gateway2);

        await platform.SendAsync(alice, conversation, "lunch at one?");

        foreach (var (live, who) in new[] { (bobLive, "bob"), (carolLive, "carol") })
        {
            var notification = await live.NextAsync("notification",
                n => n.GetProperty("conversationId").GetString() == conversation.ToString(), $"{who}'s live notification of alice's message");
            Assert.Equal("lunch at one?", notification.GetProperty("body").GetString());
        }
        // The sender is not notified of her own message: carol's, on alice's Gateway, came in the same broker message.
        await aliceLive.NextAsync("event", e => e.GetProperty("conversationId").GetString() == conversation.ToString() && e.GetProperty("type").GetString() == "message.posted",
            "alice's own message on her stream");
        Assert.DoesNotContain(aliceLive.Calls("notification"), n => n.GetProperty("conversationId").GetString() == conversation.ToString());
    }
}
