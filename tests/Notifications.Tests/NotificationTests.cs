using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.Testing;

namespace Platform.Notifications.Tests;

public sealed class NotificationTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    private static async Task<JsonElement> PushAsync(WebPushReceiver receiver, TimeSpan? timeout = null) =>
        await Eventually.Returns(() => Task.FromResult(receiver.Received.TryPeek(out var push) ? push : default),
            push => push.ValueKind == JsonValueKind.Object, timeout ?? TimeSpan.FromSeconds(15), "a push arrives and decrypts");

    [Fact]
    public async Task AnEventThatCannotBeRead_IsParked_AndHoldsUpNoneOfTheEventsPublishedWithIt()
    {
        var alice = await host.UserAsync("Alice");
        var others = new List<Guid>();
        var conversations = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            var other = await host.UserAsync($"Member{i}");
            others.Add(other);
            conversations.Add(await host.ConversationAsync("direct", null, alice, other));
        }
        await host.AllEventsConsumedAsync();

        // Published all at once, so that they share batches: six messages and, among them, one whose data cannot be read.
        var broken = NotificationsHost.Event(conversations[0], 3, ConversationEventTypes.MessagePosted, alice,
            new { id = "not-an-id", senderId = alice, text = "unreadable" });
        await Task.WhenAll(conversations.Select((conversation, i) => host.PostAsync(conversation, 2, alice, $"hello {i}"))
            .Append(host.Bus.PublishAsync(broken)));

        // Each notified once (its batch failed and was retried event by event), long before the broken event's retries end.
        foreach (var (other, i) in others.Select((other, i) => (other, i)))
        {
            var items = (await host.FeedWithAsync(other, 1)).GetProperty("items");
            Assert.Equal(1, items.GetArrayLength());
            Assert.Equal($"hello {i}", items[0].GetProperty("body").GetString());
        }
        await Eventually.Returns(() => host.Infrastructure.VirtualHost.PeekAsync("notifications-conversation-event_error"),
            messages => messages.Any(m => m.Contains(broken.EventId.ToString())), TimeSpan.FromSeconds(30), "the unreadable event is parked");
        await host.AllEventsConsumedAsync();
        foreach (var other in others)
            Assert.Equal(1, (await host.FeedAsync(other)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task DirectMessage_ReachesTheRecipient_AsARealWebPush_AndInTheFeed_AndLive()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var conversation = await host.ConversationAsync("direct", null, alice, bob);

        await host.PostAsync(conversation, 2, alice, "Lunch at noon?");

        var push = await PushAsync(phone);
        Assert.Empty(phone.Rejected);
        Assert.Equal("Alice", push.GetProperty("title").GetString());
        Assert.Equal("Lunch at noon?", push.GetProperty("body").GetString());
        Assert.Equal(conversation, push.GetProperty("conversationId").GetGuid());
        var feed = await host.FeedWithAsync(bob, 1);
        var item = feed.GetProperty("items")[0];
        Assert.Equal("direct-message", item.GetProperty("kind").GetString());
        Assert.False(item.GetProperty("read").GetBoolean());
        Assert.Equal(1, feed.GetProperty("unreadCount").GetInt32());
        Assert.Equal(0, (await host.FeedAsync(alice)).GetProperty("items").GetArrayLength());
        // One message carries the event's notifications (here bob's alone).
        var live = await Eventually.Returns(() => host.Bus.NextAsync(), n => n.Notifications.Any(x => x.UserId == bob), TimeSpan.FromSeconds(10), "NotificationsCreated for bob");
        Assert.Equal(item.GetProperty("id").GetGuid(), Assert.Single(live.Notifications).NotificationId);
    }

    [Fact]
    public async Task ChannelAtMentionsLevel_AMentionNotifies_APlainMessageDoesNot()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var carol = await host.UserAsync("Carol");
        var conversation = await host.ConversationAsync("group", "Team", alice, bob, carol);
        using var bobHttp = host.Client(bob);
        await Eventually.Returns(() => bobHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
                new { conversations = new[] { new { conversationId = conversation, level = "mentions" } } }),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "bob's preference is stored once the conversation is known");

        await host.PostAsync(conversation, 2, alice, "Plain news for everyone");
        await host.PostAsync(conversation, 3, alice, "@bob can you look?", mentions: [bob]);

        // Events are consumed one at a time, in order: once the mention is, the plain message before it was too.
        await host.ConsumedAsync(conversation, 3);
        var feed = await host.FeedAsync(bob);
        var item = Assert.Single(feed.GetProperty("items").EnumerateArray());
        Assert.Equal("mention", item.GetProperty("kind").GetString());
        Assert.Equal("Alice mentioned you in Team", item.GetProperty("title").GetString());
        // Carol keeps the default of a small group: every message.
        Assert.Equal(2, (await host.FeedWithAsync(carol, 2)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task AnIncomingWebhooksMessage_IsNotifiedUnderTheWebhooksName()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var team = await host.ConversationAsync("group", "Team", alice, bob);
        var webhookId = Guid.CreateVersion7(); // a webhook posts as itself: no user of that id
        var messageId = Guid.CreateVersion7();
        await host.Bus.PublishAsync(NotificationsHost.Event(team, 2, ConversationEventTypes.MessagePosted, webhookId, new
        {
            id = messageId, conversationId = team, seq = 2, senderId = webhookId, text = "Build 42 passed", mentions = Array.Empty<Guid>(),
            urls = Array.Empty<string>(), replyCount = 0, edited = false, deleted = false, reactions = Array.Empty<object>(),
            attachments = Array.Empty<object>(), createdAt = DateTimeOffset.UtcNow, senderIsBot = true, senderKind = "webhook", senderName = "CI",
        }));

        var item = (await host.FeedWithAsync(bob, 1)).GetProperty("items")[0];
        Assert.Equal("CI in Team", item.GetProperty("title").GetString());
        Assert.Equal("Build 42 passed", item.GetProperty("body").GetString());
    }

    [Fact]
    public async Task Channel_NotifiesThoseWhoseOwnPreferencesSayAll_TheMentioned_AndNoOneElse()
    {
        // A channel's members hear only of mentions unless they chose more: the service asks the database only for
        // the members whose preferences may say more (a default, or a level for this channel), so the rules must
        // come out the same as for every member read one by one.
        var alice = await host.UserAsync("Alice");
        var (everything, follower, plain, elsewhere, mentioned, muted) = (await host.UserAsync("Ben"), await host.UserAsync("Cleo"),
            await host.UserAsync("Dan"), await host.UserAsync("Eve"), await host.UserAsync("Finn"), await host.UserAsync("Gus"));
        var channel = await host.ConversationAsync("channel", "general", alice, everything, follower, plain, elsewhere, mentioned, muted);
        var other = await host.ConversationAsync("group", "side", alice, elsewhere);
        await PreferAsync(everything, new { @default = "all" }, "ben hears of everything");
        await PreferAsync(follower, new { conversations = new[] { new { conversationId = channel, level = "all" } } }, "cleo follows #general");
        await PreferAsync(elsewhere, new { conversations = new[] { new { conversationId = other, level = "all" } } }, "eve follows another conversation only");
        await PreferAsync(muted, new { conversations = new[] { new { conversationId = channel, level = "none" } } }, "gus muted #general");

        await host.PostAsync(channel, 2, alice, "plain news");
        await host.PostAsync(channel, 3, alice, "@finn @gus have a look", mentions: [mentioned, muted]);
        await host.ConsumedAsync(channel, 3);

        Assert.Equal(["message", "message"], Kinds(await host.FeedWithAsync(everything, 2)));
        Assert.Equal(["message", "message"], Kinds(await host.FeedWithAsync(follower, 2)));
        Assert.Equal(["mention"], Kinds(await host.FeedWithAsync(mentioned, 1)));
        foreach (var nobody in new[] { plain, elsewhere, muted })
            Assert.Empty(Kinds(await host.FeedAsync(nobody)));

        static List<string> Kinds(JsonElement feed) =>
            feed.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("kind").GetString()!).ToList();
    }

    /// <summary>
    /// A large conversation's document is kept between its messages (LargeConversations) only while its stored version
    /// stands: a member who joins is notified of the next message, one who leaves is not, and messages in between (the
    /// kept document used) notify as before.
    /// </summary>
    [Fact]
    public async Task LargeChannel_KeptBetweenMessages_FollowsJoinsAndLeaves()
    {
        var alice = await host.UserAsync("Alice");
        var follower = await host.UserAsync("Follower");
        var late = await host.UserAsync("Late");
        var others = new List<Guid>();
        for (var i = 0; i < 20; i++)
            others.Add(await host.UserAsync($"Member {i}"));
        // 22 members: above LargeGroup (20), so the document is kept.
        var channel = await host.ConversationAsync("channel", "big", [alice, follower, .. others]);
        await PreferAsync(follower, new { conversations = new[] { new { conversationId = channel, level = "all" } } }, "the follower follows #big");
        await PreferAsync(late, new { @default = "all" }, "the late member hears of everything");

        // Each event consumed before the next is published: the order of the feeds, and of a join before the next message,
        // is then the order here.
        async Task Post(long seq, string text)
        {
            await host.PostAsync(channel, seq, alice, text);
            await host.ConsumedAsync(channel, seq);
        }
        async Task Change(long seq, string type, object data)
        {
            await host.Bus.PublishAsync(NotificationsHost.Event(channel, seq, type, alice, data));
            await host.ConsumedAsync(channel, seq);
        }
        await Post(2, "first"); // loaded, seen large
        await Post(3, "second"); // loaded after its version: kept
        await Change(4, ConversationEventTypes.MemberJoined, new { userId = late, role = "member", addedBy = alice });
        await Post(5, "third"); // the version changed: loaded again
        await Post(6, "fourth"); // kept
        await Change(7, ConversationEventTypes.MemberLeft, new { userId = follower, removedBy = alice });
        await Post(8, "fifth");
        await Post(9, "sixth");

        Assert.Equal(["fourth", "third", "second", "first"], Bodies(await host.FeedWithAsync(follower, 4)));
        Assert.Equal(["sixth", "fifth", "fourth", "third"], Bodies(await host.FeedWithAsync(late, 4)));

        static List<string> Bodies(JsonElement feed) =>
            feed.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("body").GetString()!).ToList();
    }

    // Preferences for a conversation are refused until the service knows the conversation: retried until accepted.
    private async Task PreferAsync(Guid user, object preferences, string because)
    {
        using var http = host.Client(user);
        await Eventually.Returns(() => http.PutAsJsonAsync("/api/v1/notifications/preferences", preferences),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), because);
    }

    [Fact]
    public async Task MutedConversation_NotifiesNothing_UntilTheMuteEnds()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        using var bobHttp = host.Client(bob);
        await Eventually.Returns(() => bobHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
                new { conversations = new[] { new { conversationId = conversation, level = "none", mutedUntil = DateTimeOffset.UtcNow.AddHours(1) } } }),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "bob mutes the conversation");

        await host.PostAsync(conversation, 2, alice, "@bob hello?", mentions: [bob]);
        await host.ConsumedAsync(conversation, 2);
        Assert.Equal(0, (await host.FeedAsync(bob)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task QuietHours_HoldThePush_ButKeepTheFeedEntry()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var now = DateTime.UtcNow;
        using var bobHttp = host.Client(bob);
        var quiet = await bobHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
            new { quietHours = new { start = now.AddHours(-1).ToString("HH:mm"), end = now.AddHours(1).ToString("HH:mm"), timeZone = "Etc/UTC" } });
        Assert.Equal(HttpStatusCode.OK, quiet.StatusCode);
        var conversation = await host.ConversationAsync("direct", null, alice, bob);

        await host.PostAsync(conversation, 2, alice, "Are you awake?");

        await host.FeedWithAsync(bob, 1);
        // Held: when it fell due, the push was put back to the end of the quiet hours instead of being sent.
        await Eventually.Returns(() => host.PendingPushesAsync(bob), pending => pending.Any(push => push.DueAt > DateTimeOffset.UtcNow.AddMinutes(30)),
            TimeSpan.FromSeconds(15), "the push is held until the quiet hours end");
        Assert.Equal(0, phone.Requests);
    }

    [Fact]
    public async Task ConnectedUser_GetsNoPush_WhenTheyReadInTime_AndAPushWhenTheMessageStaysUnread()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        await host.Bus.PublishAsync(new PresenceChanged { UserId = bob, Status = "online", Availability = "available", Version = 1, ChangedAt = DateTimeOffset.UtcNow });
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        await host.PresenceKnownAsync(bob, 1);

        await host.PostAsync(conversation, 2, alice, "Seen this?");
        await host.FeedWithAsync(bob, 1);
        // As Messaging publishes a flush: Bob's older and newer read cursors (the highest counts) and Alice's delivered one.
        await host.Bus.PublishAsync(new ReceiptsChangedBatch
        {
            Items =
            [
                new ReceiptsChanged { ConversationId = conversation, UserId = bob, ReadSeq = 1, ChangedAt = DateTimeOffset.UtcNow, OwnDevicesOnly = true },
                new ReceiptsChanged { ConversationId = conversation, UserId = alice, DeliveredSeq = 2, ChangedAt = DateTimeOffset.UtcNow },
                new ReceiptsChanged { ConversationId = conversation, UserId = bob, ReadSeq = 2, ChangedAt = DateTimeOffset.UtcNow },
            ],
        });
        await host.ReadUpToAsync(bob, conversation, 2);
        // The push waited for the unread delay; at its due time everything it would show was read, so it was dropped.
        await host.NoPushPendingAsync(bob);
        Assert.Equal(0, phone.Requests);
        Assert.Equal(0, (await host.FeedAsync(bob)).GetProperty("unreadCount").GetInt32());

        var posted = DateTimeOffset.UtcNow;
        await host.PostAsync(conversation, 3, alice, "Still there?");
        var push = await PushAsync(phone);
        Assert.True(DateTimeOffset.UtcNow - posted >= NotificationsHost.UnreadDelay - TimeSpan.FromMilliseconds(200), "pushed only after the unread delay");
        Assert.Equal("Still there?", push.GetProperty("body").GetString());
    }

    [Fact]
    public async Task RedeliveredEvent_MakesOneNotification_AndOnePush()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var conversation = await host.ConversationAsync("direct", null, alice, bob);

        var (_, posted) = await host.PostAsync(conversation, 2, alice, "Once only");
        await host.Bus.PublishAsync(posted);
        await host.Bus.PublishAsync(posted);

        await PushAsync(phone);
        await host.AllEventsConsumedAsync();
        await host.NoPushPendingAsync(bob);
        Assert.Single((await host.FeedAsync(bob)).GetProperty("items").EnumerateArray());
        Assert.Equal(1, phone.Requests);
    }

    [Fact]
    public async Task Burst_IsCoalescedIntoOnePush()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        var conversation = await host.ConversationAsync("channel", "general", alice, bob);
        using var bobHttp = host.Client(bob);
        await Eventually.Returns(() => bobHttp.PutAsJsonAsync("/api/v1/notifications/preferences",
                new { conversations = new[] { new { conversationId = conversation, level = "all" } } }),
            r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "bob follows #general");

        for (var seq = 2; seq <= 6; seq++)
            await host.PostAsync(conversation, seq, alice, $"news {seq}");

        var push = await PushAsync(phone);
        await host.ConsumedAsync(conversation, 6);
        await host.NoPushPendingAsync(bob);
        Assert.Equal(1, phone.Requests);
        Assert.Equal("5 new messages in #general", push.GetProperty("title").GetString());
        Assert.Equal("news 6", push.GetProperty("body").GetString());
        Assert.Equal(5, push.GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task EditedOrDeletedMessage_LeavesNoStaleTextInAPendingPush()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var phone = await host.SubscribeAsync(bob);
        // Connected: the push waits for the unread delay, time enough to edit and delete.
        await host.Bus.PublishAsync(new PresenceChanged { UserId = bob, Status = "online", Availability = "available", Version = 1, ChangedAt = DateTimeOffset.UtcNow });
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        await host.PresenceKnownAsync(bob, 1);

        var (edited, _) = await host.PostAsync(conversation, 2, alice, "Meet at 5 (typo)");
        var (deleted, _) = await host.PostAsync(conversation, 3, alice, "my password is hunter2");
        await host.FeedWithAsync(bob, 2);
        await host.Bus.PublishAsync(NotificationsHost.Event(conversation, 4, ConversationEventTypes.MessageEdited, alice,
            new { messageId = edited, text = "Meet at 6", mentions = Array.Empty<Guid>(), urls = Array.Empty<string>(), editedAt = DateTimeOffset.UtcNow }));
        await host.Bus.PublishAsync(NotificationsHost.Event(conversation, 5, ConversationEventTypes.MessageDeleted, alice, new { messageId = deleted, reason = "sender" }));

        var push = await PushAsync(phone);
        Assert.Equal("Meet at 6", push.GetProperty("body").GetString());
        Assert.Equal(1, push.GetProperty("count").GetInt32());
        var feed = await host.FeedAsync(bob);
        Assert.DoesNotContain("hunter2", feed.GetRawText());
        Assert.Single(feed.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task PushServiceSays410_TheSubscriptionIsRemoved_429_ThePushIsRetried()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var busy = await host.SubscribeAsync(bob);
        busy.AnswerNext(429);
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        await host.PostAsync(conversation, 2, alice, "Try again");
        var push = await PushAsync(busy, TimeSpan.FromSeconds(20));
        Assert.Equal("Try again", push.GetProperty("body").GetString());
        Assert.Equal(2, busy.Requests);

        var carol = await host.UserAsync("Carol");
        var gone = await host.SubscribeAsync(carol);
        gone.AnswerNext(410);
        var other = await host.ConversationAsync("direct", null, alice, carol);
        await host.PostAsync(other, 2, alice, "Hello?");
        using var carolHttp = host.Client(carol);
        await Eventually.Returns(() => carolHttp.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions"),
            page => page.GetProperty("items").GetArrayLength() == 0, TimeSpan.FromSeconds(15), "the gone subscription is removed");
    }

    [Fact]
    public async Task AnotherAccountsPushEndpoint_IsNotMoved_UnlessTheRequestHoldsThatBrowsersSecret()
    {
        var (alice, bob) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        using var aliceHttp = host.Client(alice);
        using var bobHttp = host.Client(bob);
        const string p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
        var endpoint = "https://fcm.googleapis.com/fcm/send/taken-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await aliceHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { endpoint, keys = new { p256dh, auth = "tBHItJI5svbpez7KI4CCXg" } })).StatusCode);

        // Bob learnt the URL, not the browser's secret: refused, and Alice keeps her device.
        var stolen = await bobHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { endpoint, keys = new { p256dh, auth = "AAAAAAAAAAAAAAAAAAAAAA" } });
        Assert.Equal(HttpStatusCode.Conflict, stolen.StatusCode);
        Assert.Equal("application/problem+json", stolen.Content.Headers.ContentType?.MediaType);
        Assert.Single((await aliceHttp.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions")).GetProperty("items").EnumerateArray());
        Assert.Empty((await bobHttp.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions")).GetProperty("items").EnumerateArray());

        // The same browser, now signed in as Bob, has the secret: the device moves to him.
        Assert.Equal(HttpStatusCode.OK, (await bobHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { endpoint, keys = new { p256dh, auth = "tBHItJI5svbpez7KI4CCXg" } })).StatusCode);
        Assert.Empty((await aliceHttp.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions")).GetProperty("items").EnumerateArray());

        // A native token stays with its account.
        var token = "apns-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await aliceHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { platform = "apns", token })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await bobHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { platform = "apns", token })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await aliceHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { platform = "apns", token })).StatusCode);
    }

    [Fact]
    public async Task ABrokenSubscription_DoesNotBlockTheUsersOtherDevices_OrOtherUsers()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var dan = await host.UserAsync("Dan");
        // A device whose push service has vanished (nothing listens on the port).
        var dead = await WebPushReceiver.StartAsync();
        using (var bobHttp = host.Client(bob))
            Assert.True((await bobHttp.PostAsJsonAsync("/api/v1/push-subscriptions", new { endpoint = dead.Endpoint, keys = new { p256dh = dead.P256dh, auth = dead.Auth } })).IsSuccessStatusCode);
        await dead.DisposeAsync();
        var laptop = await host.SubscribeAsync(bob);
        var dansPhone = await host.SubscribeAsync(dan);
        var conversation = await host.ConversationAsync("group", "Trio", alice, bob, dan);

        await host.PostAsync(conversation, 2, alice, "Everyone?");

        Assert.Equal("Everyone?", (await PushAsync(laptop)).GetProperty("body").GetString());
        Assert.Equal("Everyone?", (await PushAsync(dansPhone)).GetProperty("body").GetString());
    }

    [Fact]
    public async Task MarkRead_ByIdsOrUpToATime_LowersTheUnreadCount()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        // One at a time: the feed is newest first by when each notification was made, and events published back to back
        // may be consumed in another order (a batch keeps the broker's order, but deliveries that overtake each other
        // on the way in can land in consecutive batches).
        foreach (var (seq, text) in new[] { (2L, "one"), (3L, "two"), (4L, "three") })
        {
            await host.PostAsync(conversation, seq, alice, text);
            await host.ConsumedAsync(conversation, seq);
        }
        var feed = await host.FeedWithAsync(bob, 3);
        Assert.Equal(3, feed.GetProperty("unreadCount").GetInt32());
        Assert.Equal(["three", "two", "one"], feed.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("body").GetString()));

        using var http = host.Client(bob);
        var newest = feed.GetProperty("items")[0];
        var byId = await http.PostAsJsonAsync("/api/v1/notifications/read", new { ids = new[] { newest.GetProperty("id").GetGuid() } });
        Assert.Equal(2, (await byId.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("unreadCount").GetInt32());
        var upTo = await http.PostAsJsonAsync("/api/v1/notifications/read", new { upTo = DateTimeOffset.UtcNow });
        Assert.Equal(0, (await upTo.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("unreadCount").GetInt32());

        var page = await http.GetFromJsonAsync<JsonElement>("/api/v1/notifications?limit=2");
        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        var rest = await http.GetFromJsonAsync<JsonElement>($"/api/v1/notifications?limit=2&cursor={page.GetProperty("next").GetString()}");
        Assert.Equal("one", Assert.Single(rest.GetProperty("items").EnumerateArray()).GetProperty("body").GetString());
    }

    [Fact]
    public async Task Invite_IsEmailedOverSmtp_WithAWorkingLink()
    {
        var alice = await host.UserAsync("Alice");
        var token = "inv-" + Guid.NewGuid().ToString("N");
        await host.Bus.PublishAsync(new InviteCreated
        {
            InviteId = Guid.CreateVersion7(), InvitedBy = alice, Email = "newcomer@example.com", Token = token,
            ExpiresAt = DateTimeOffset.UtcNow.AddDays(7), CreatedAt = DateTimeOffset.UtcNow,
        });

        var mail = await Eventually.Returns(() => Task.FromResult(host.Smtp.Messages.FirstOrDefault(m => m.To.ToString().Contains("newcomer@example.com"))),
            m => m is not null, TimeSpan.FromSeconds(15), "the invite email arrives");
        Assert.Equal("Alice invites you to chat", mail!.Subject);
        Assert.Contains($"https://chat.example.com/invite?invite={token}", mail.TextBody);
        Assert.Contains($"href=\"https://chat.example.com/invite?invite={token}\"", mail.HtmlBody);
    }

    [Fact]
    public async Task APasswordResetCode_IsEmailedOverSmtp()
    {
        var email = $"reset-{Guid.NewGuid():N}@example.com";
        await host.Bus.PublishAsync(new PasswordResetRequested
        {
            RequestId = Guid.CreateVersion7(), UserId = Guid.CreateVersion7(), Email = email, Code = "01234567",
            ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(15), RequestedAt = DateTimeOffset.UtcNow,
        });

        var mail = await Eventually.Returns(() => Task.FromResult(host.Smtp.Messages.FirstOrDefault(m => m.To.ToString().Contains(email))),
            m => m is not null, TimeSpan.FromSeconds(15), "the reset email arrives");
        Assert.Equal("Your password reset code", mail!.Subject);
        Assert.Contains("01234567", mail.TextBody);
        Assert.Contains("15 minutes", mail.TextBody);
    }

    [Fact]
    public async Task AnEmailVerificationCode_IsEmailedOverSmtp()
    {
        var email = $"verify-{Guid.NewGuid():N}@example.com";
        await host.Bus.PublishAsync(new VerificationCodeRequested
        {
            RequestId = Guid.CreateVersion7(), UserId = Guid.CreateVersion7(), Channel = "email", Address = email, Code = "012345",
            ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(15), RequestedAt = DateTimeOffset.UtcNow,
        });

        var mail = await Eventually.Returns(() => Task.FromResult(host.Smtp.Messages.FirstOrDefault(m => m.To.ToString().Contains(email))),
            m => m is not null, TimeSpan.FromSeconds(15), "the verification email arrives");
        Assert.Equal("Your verification code", mail!.Subject);
        Assert.Contains("012345", mail.TextBody);
        Assert.Contains("15 minutes", mail.TextBody);
    }

    [Theory]
    [InlineData("""{"endpoint":"http://push.example.com/abc","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}""")]
    [InlineData("""{"endpoint":"https://10.0.0.7/push","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}""")]
    [InlineData("""{"endpoint":"https://[::1]/push","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}""")]
    [InlineData("""{"endpoint":"https://169.254.169.254/latest","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}""")]
    [InlineData("""{"endpoint":"https://push.example.com/abc","keys":{"p256dh":"AAAA","auth":"tBHItJI5svbpez7KI4CCXg"}}""")]
    [InlineData("""{"endpoint":"https://push.example.com/abc","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"short"}}""")]
    [InlineData("""{"endpoint":"https://push.example.com/abc"}""")]
    [InlineData("""{"platform":"carrier-pigeon","token":"x"}""")]
    [InlineData("""{"platform":"apns","token":""}""")]
    public async Task BadSubscription_Is400(string body)
    {
        using var http = host.Client(Guid.CreateVersion7());
        var response = await http.PostAsync("/api/v1/push-subscriptions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task GoodSubscription_IsStored_AndTheSameEndpointAgainUpdatesIt()
    {
        var user = Guid.CreateVersion7();
        using var http = host.Client(user);
        var body = new
        {
            endpoint = "https://fcm.googleapis.com/fcm/send/abc-" + Guid.NewGuid().ToString("N"),
            keys = new { p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", auth = "tBHItJI5svbpez7KI4CCXg" }
        };
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/push-subscriptions", body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/api/v1/push-subscriptions", body)).StatusCode);
        Assert.Single((await http.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/v1/push-subscriptions?endpoint={Uri.EscapeDataString(body.endpoint)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/v1/push-subscriptions?endpoint={Uri.EscapeDataString(body.endpoint)}")).StatusCode);
        var key = await http.GetFromJsonAsync<JsonElement>("/api/v1/push-subscriptions/vapid-public-key");
        Assert.Equal(65, Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(key.GetProperty("publicKey").GetString()).Length);
    }

    [Theory]
    [InlineData("""{"default":"loud"}""")]
    [InlineData("""{"conversations":[{"conversationId":"01a2277e-0000-7000-8000-000000000000","level":"sometimes"}]}""")]
    [InlineData("""{"quietHours":{"start":"25:00","end":"07:00","timeZone":"Europe/Paris"}}""")]
    [InlineData("""{"quietHours":{"start":"22:00","end":"07:00","timeZone":"Mars/Olympus"}}""")]
    [InlineData("""{"unexpected":true}""")]
    public async Task BadPreferences_Are400_AndKeepTheStoredOnes(string body)
    {
        var user = Guid.CreateVersion7();
        using var http = host.Client(user);
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/api/v1/notifications/preferences", new { @default = "mentions" })).StatusCode);

        var response = await http.PutAsync("/api/v1/notifications/preferences", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("mentions", (await http.GetFromJsonAsync<JsonElement>("/api/v1/notifications/preferences")).GetProperty("default").GetString());
    }

    [Fact]
    public async Task PreferencesForAConversationIAmNotIn_Are404()
    {
        var alice = await host.UserAsync("Alice");
        var bob = await host.UserAsync("Bob");
        var conversation = await host.ConversationAsync("direct", null, alice, bob);
        await host.PostAsync(conversation, 2, alice, "known now");
        await host.FeedWithAsync(bob, 1);
        using var stranger = host.Client(Guid.CreateVersion7());
        var response = await stranger.PutAsJsonAsync("/api/v1/notifications/preferences",
            new { conversations = new[] { new { conversationId = conversation, level = "none" } } });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
