using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

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

    /// <summary>
    /// In a channel a message notifies only whom it can (Notifications reads those members' preferences, not everyone's):
    /// Carol asked for every message of this channel and hears the plain one live; Bob hears only the one that mentions
    /// him; Dave, with no preferences, hears neither. Checked live on both Gateways and in each feed, after the mention
    /// (Notifications handles one conversation's events in order, so by then the plain message was decided too).
    /// </summary>
    [Fact]
    public async Task AChannelMessage_NotifiesWhoAskedForAllAndTheMentioned_NotTheOtherMembers()
    {
        var alice = await platform.SignUpAsync("Alice Posts In A Channel");
        var bob = await platform.SignUpAsync("Bob Is Mentioned");
        var carol = await platform.SignUpAsync("Carol Hears All");
        var dave = await platform.SignUpAsync("Dave Hears Mentions");
        var channel = (await platform.CreateConversationAsync(alice, "channel", [bob, carol, dave], "announcements")).GetProperty("id").GetGuid();
        var everything = new { conversations = new[] { new { conversationId = channel, level = "all" } } };
        // Notifications learns of the channel from the bus: until then a preference for it is refused.
        await platform.EventuallyAsync(() => carol.Http.PutAsJsonAsync("api/v1/notifications/preferences", everything), response => response.IsSuccessStatusCode,
            "Carol's preference for the channel is accepted", platform.Notifications);
        await using var bobLive = await platform.ConnectAsync(bob, platform.Gateway1);
        await using var carolLive = await platform.ConnectAsync(carol, platform.Gateway2);
        await using var daveLive = await platform.ConnectAsync(dave, platform.Gateway1);

        await platform.SendAsync(alice, channel, "the office is closed on friday");
        var heard = await carolLive.NextAsync("notification", n => n.GetProperty("conversationId").GetString() == channel.ToString(), "carol's notification of the plain message");
        Assert.Equal("the office is closed on friday", heard.GetProperty("body").GetString());

        await platform.SendAsync(alice, channel, $"@{bob.Username} can you cover on friday?");
        var mentioned = await bobLive.NextAsync("notification", n => n.GetProperty("conversationId").GetString() == channel.ToString(), "bob's notification of the mention");
        Assert.Equal("mention", mentioned.GetProperty("kind").GetString());
        await carolLive.NextAsync("notification", n => n.GetProperty("body").GetString()!.StartsWith('@'), "carol's notification of the second message");

        Assert.Single(bobLive.Calls("notification"), n => n.GetProperty("conversationId").GetString() == channel.ToString());
        Assert.DoesNotContain(daveLive.Calls("notification"), n => n.GetProperty("conversationId").GetString() == channel.ToString());
        foreach (var (user, expected) in new[] { (bob, 1), (carol, 2), (dave, 0) })
        {
            var feed = await platform.ReadAsync(await user.Http.GetAsync("api/v1/notifications?limit=100"), HttpStatusCode.OK, "reading the feed", platform.Notifications);
            Assert.Equal(expected, feed.GetProperty("items").EnumerateArray().Count(item => item.GetProperty("conversationId").GetGuid() == channel));
        }
    }
    /// <summary>
    /// A channel larger than Notifications' <c>LargeGroup</c> (20): Notifications keeps its document between messages and
    /// must notice every change of its members made through Messaging. A member who joins after the channel's first
    /// message is notified of a mention right away; a member who left is not, and neither of what happens after.
    /// </summary>
    [Fact]
    public async Task ALargeChannel_NotifiesWhoJoinedAfterItsFirstMessage_AndNotWhoLeft()
    {
        var alice = await platform.SignUpAsync("Alice Runs A Big Channel");
        var bob = await platform.SignUpAsync("Bob Leaves The Big Channel");
        var carol = await platform.SignUpAsync("Carol Stays In The Big Channel");
        var eve = await platform.SignUpAsync("Eve Joins The Big Channel");
        var others = new List<User>();
        foreach (var chunk in Enumerable.Range(1, 20).Chunk(4))
            others.AddRange(await Task.WhenAll(chunk.Select(i => platform.SignUpAsync($"Listener {i}"))));
        // 23 members with Alice: more than LargeGroup.
        var channel = (await platform.CreateConversationAsync(alice, "channel", [bob, carol, .. others], "everyone")).GetProperty("id").GetGuid();
        await using var bobLive = await platform.ConnectAsync(bob, platform.Gateway1);
        await using var carolLive = await platform.ConnectAsync(carol, platform.Gateway2);
        await using var eveLive = await platform.ConnectAsync(eve, platform.Gateway2);
        bool InChannel(JsonElement notification) => notification.GetProperty("conversationId").GetString() == channel.ToString();

        // The first message marks the channel large, the second keeps its document (at the version read before it).
        await platform.SendAsync(alice, channel, $"@{bob.Username} the first one");
        await bobLive.NextAsync("notification", InChannel, "bob's notification of the first message");
        await platform.SendAsync(alice, channel, $"@{carol.Username} the second one");
        await carolLive.NextAsync("notification", InChannel, "carol's notification of the second message");

        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{channel}/members", new { userIds = new[] { eve.Id } }),
            HttpStatusCode.OK, "alice adding eve to the channel", platform.Messaging);
        await platform.SendAsync(alice, channel, $"@{eve.Username} welcome");
        var welcome = await eveLive.NextAsync("notification", InChannel, "eve's notification of the mention after she joined");
        Assert.Equal("mention", welcome.GetProperty("kind").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"api/v1/conversations/{channel}/members/{bob.Id}")).StatusCode);
        await platform.SendAsync(alice, channel, $"@{bob.Username} @{carol.Username} still there?");
        // Carol's notification of the same message: by then that message was decided for Bob too.
        await carolLive.NextAsync("notification", n => InChannel(n) && n.GetProperty("body").GetString()!.EndsWith("still there?", StringComparison.Ordinal),
            "carol's notification of the message after bob left");
        Assert.Single(bobLive.Calls("notification"), InChannel);
        var bobsFeed = await platform.ReadAsync(await bob.Http.GetAsync("api/v1/notifications?limit=100"), HttpStatusCode.OK, "reading bob's feed", platform.Notifications);
        Assert.Equal(1, bobsFeed.GetProperty("items").EnumerateArray().Count(item => item.GetProperty("conversationId").GetGuid() == channel));
    }
}
