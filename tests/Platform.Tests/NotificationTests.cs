using System.Net;

namespace Platform.Tests;

/// <summary>Messaging and Notifications on one broker: every posted message of a new conversation reaches the feed.</summary>
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
}
