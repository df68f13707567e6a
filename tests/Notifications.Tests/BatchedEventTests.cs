using System.Net;
using System.Net.Http.Json;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>A host whose batches of conversation events wait long enough that events published together share one.</summary>
public sealed class WideBatchNotificationsHost : NotificationsHost
{
    protected override TimeSpan EventBatchWindow => TimeSpan.FromSeconds(2);
}

/// <summary>
/// Several events handled as one batch: the first posted message of each conversation has its documents, and its
/// candidates' preferences, read cursors and push subscriptions, read together with the others', before any event of the
/// batch is handled; a later event of a conversation sees what the earlier ones wrote.
/// </summary>
public sealed class BatchedEventTests(WideBatchNotificationsHost host) : IClassFixture<WideBatchNotificationsHost>
{
    [Fact]
    public async Task AJoinAndAMentionOfTheNewMemberInOneBatch_NotifyTheNewMember_BesideTheOtherConversationsMessages()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var carol = await host.UserAsync("Carol");
        var dave = await host.UserAsync("Dave");
        var erin = await host.UserAsync("Erin");
        var team = await host.ConversationAsync("group", "team", alice, bob);
        var withDave = await host.ConversationAsync("direct", null, alice, dave);
        var withErin = await host.ConversationAsync("direct", null, alice, erin);
        var frank = await host.UserAsync("Frank");
        var withFrank = await host.ConversationAsync("direct", null, alice, frank);
        await host.ConsumedAsync(team, 1);
        await host.ConsumedAsync(withDave, 1);
        await host.ConsumedAsync(withErin, 1);
        // Frank muted Alice: his preferences are among the documents the batch reads for all its first messages.
        using var frankHttp = host.Client(frank);
        await Eventually.Returns(() => frankHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
                new { conversations = new[] { new { conversationId = withFrank, level = "none" } } }),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "frank's preference is stored once the conversation is known");
        await host.Bus.DrainAsync(TimeSpan.FromMilliseconds(200));

        // Published one after the other within the batch's window: one batch. The two direct messages are read together
        // before anything is handled; the mention comes after the join in its conversation, so it must read Carol as a member.
        await host.PostAsync(withDave, 2, alice, "hi Dave");
        await host.Bus.PublishAsync(NotificationsHost.Event(team, 2, ConversationEventTypes.MemberJoined, alice, new { userId = carol, role = "member", addedBy = alice }));
        await host.PostAsync(team, 3, alice, "welcome @carol", mentions: [carol]);
        await host.PostAsync(withErin, 2, alice, "hi Erin");
        await host.PostAsync(withFrank, 2, alice, "hi Frank");

        Assert.Equal("welcome @carol", (await host.FeedWithAsync(carol, 1)).GetProperty("items")[0].GetProperty("body").GetString());
        Assert.Equal("hi Dave", (await host.FeedWithAsync(dave, 1)).GetProperty("items")[0].GetProperty("body").GetString());
        Assert.Equal("hi Erin", (await host.FeedWithAsync(erin, 1)).GetProperty("items")[0].GetProperty("body").GetString());
        Assert.Equal("welcome @carol", (await host.FeedWithAsync(bob, 1)).GetProperty("items")[0].GetProperty("body").GetString());

        // They were one batch: one announcement carries them all, and nothing for Frank.
        var announced = await host.Bus.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new[] { dave, carol, bob, erin }.Order(), announced.Notifications.Select(n => n.UserId).Order());
        await host.ConsumedAsync(withFrank, 2);
        Assert.Equal(0, (await host.FeedAsync(frank)).GetProperty("items").GetArrayLength());
    }
}
