using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Messaging;
using Platform.Notifications.Domain;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>Replies reach a thread's followers (by hand too) and not those who unfollowed; @channel mentions every member.</summary>
public sealed class ThreadAndMassMentionTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    private static IEnumerable<(string Kind, Guid? MessageId)> Items(JsonElement feed) =>
        feed.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("kind").GetString()!,
            i.GetProperty("messageId").ValueKind == JsonValueKind.String ? i.GetProperty("messageId").GetGuid() : (Guid?)null));

    [Fact]
    public async Task AReply_NotifiesWhoFollowedTheThreadByHand_NotTheAuthorWhoUnfollowedIt_AndAtChannelMentionsEveryone()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var carol = await host.UserAsync("Carol");
        var dan = await host.UserAsync("Dan");
        // A channel: everyone is at "mentions" by default, so plain messages notify nobody.
        var channel = await host.ConversationAsync("channel", "General", alice, bob, carol, dan);
        var (root, _) = await host.PostAsync(channel, 2, alice, "Who is on call?");
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        await host.Bus.PublishAsync(new ThreadFollowChanged { ConversationId = channel, RootId = root, UserId = bob, Following = true, ChangedAt = DateTimeOffset.UtcNow });
        await host.Bus.PublishAsync(new ThreadFollowChanged { ConversationId = channel, RootId = root, UserId = alice, Following = false, ChangedAt = DateTimeOffset.UtcNow });
        await Eventually.Returns(async () =>
            {
                await using var session = store.QuerySession();
                return await session.LoadAsync<MessageRef>(root);
            }, thread => thread is not null && thread.Followers.Contains(bob) && thread.Unfollowers.Contains(alice), TimeSpan.FromSeconds(15), "the follows are known");

        var (reply, _) = await host.PostAsync(channel, 3, carol, "me", replyTo: root);
        var bobs = await host.FeedWithAsync(bob, 1);
        Assert.Contains(("reply", (Guid?)reply), Items(bobs));

        // @channel (as Messaging allowed it): a mention for every member but its author, at level "mentions" too.
        var massMessage = Guid.CreateVersion7();
        await host.Bus.PublishAsync(NotificationsHost.Event(channel, 4, ConversationEventTypes.MessagePosted, dan, new
        {
            id = massMessage, conversationId = channel, seq = 4, senderId = dan, text = "@channel release at noon", mentions = Array.Empty<Guid>(),
            urls = Array.Empty<string>(), replyTo = (Guid?)null, replyCount = 0, edited = false, deleted = false, reactions = Array.Empty<object>(),
            attachments = Array.Empty<object>(), createdAt = DateTimeOffset.UtcNow, massMention = "channel",
        }));
        foreach (var member in new[] { alice, carol })
            Assert.Contains(("mention", (Guid?)massMessage), Items(await host.FeedWithAsync(member, 1)));
        Assert.Contains(("mention", (Guid?)massMessage), Items(await host.FeedWithAsync(bob, 2)));
        // Alice, who unfollowed her thread, heard nothing of the reply.
        Assert.DoesNotContain(Items(await host.FeedAsync(alice)), i => i.MessageId == reply);
        Assert.Empty(Items(await host.FeedAsync(dan)));
    }

    [Fact]
    public async Task AFollowChange_OlderThanTheOneApplied_ChangesNothing()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var channel = await host.ConversationAsync("channel", "Releases", alice, bob);
        var (root, _) = await host.PostAsync(channel, 2, alice, "Ship it?");
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        async Task<MessageRef?> Thread()
        {
            await using var session = store.QuerySession();
            return await session.LoadAsync<MessageRef>(root);
        }
        var now = DateTimeOffset.UtcNow;
        await host.Bus.PublishAsync(new ThreadFollowChanged { ConversationId = channel, RootId = root, UserId = bob, Following = true, ChangedAt = now });
        await Eventually.Returns(Thread, thread => thread is not null && thread.Followers.Contains(bob), TimeSpan.FromSeconds(15), "Bob follows");

        // Bob's earlier unfollow, published again by Messaging's relay after this follow (a broker outage in between).
        await host.Bus.PublishAsync(new ThreadFollowChanged { ConversationId = channel, RootId = root, UserId = bob, Following = false, ChangedAt = now.AddSeconds(-30) });
        await Task.Delay(TimeSpan.FromSeconds(2));
        var thread = await Thread();
        Assert.Contains(bob, thread!.Followers);
        Assert.DoesNotContain(bob, thread.Unfollowers);
    }

    [Fact]
    public async Task AnUnfollowMadeBeforeAReply_ArrivingAfterIt_LeavesTheReplierFollowing()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var carol = await host.UserAsync("Carol");
        var channel = await host.ConversationAsync("channel", "Incidents", alice, bob, carol);
        var (root, _) = await host.PostAsync(channel, 2, alice, "The database is slow");
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        async Task<MessageRef?> Thread()
        {
            await using var session = store.QuerySession();
            return await session.LoadAsync<MessageRef>(root);
        }
        var beforeTheReply = DateTimeOffset.UtcNow.AddSeconds(-30);
        await host.PostAsync(channel, 3, bob, "looking", replyTo: root);
        await Eventually.Returns(Thread, thread => thread is not null && thread.Repliers.Contains(bob), TimeSpan.FromSeconds(15), "Bob replied");

        // Bob had unfollowed the thread before replying (which follows again); the unfollow reaches Notifications only now.
        await host.Bus.PublishAsync(new ThreadFollowChanged { ConversationId = channel, RootId = root, UserId = bob, Following = false, ChangedAt = beforeTheReply });
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(bob, (await Thread())!.Unfollowers);
        var (reply, _) = await host.PostAsync(channel, 4, carol, "fixed", replyTo: root);
        Assert.Contains(("reply", (Guid?)reply), Items(await host.FeedWithAsync(bob, 1)));
    }
}
