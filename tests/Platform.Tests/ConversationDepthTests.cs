using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Tests;

/// <summary>Conversation depth through the Gateway: message search, threads, forwarding, the channel directory, invite links.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class ConversationDepthTests(WholePlatform platform)
{
    private static List<Guid> Found(JsonElement page) =>
        page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("message").GetProperty("id").GetGuid()).ToList();

    [Fact]
    public async Task Search_ThroughTheGateway_FindsAMembersMessages_AndNothingForANonMember()
    {
        var alice = await platform.SignUpAsync("Alice Searches");
        var bob = await platform.SignUpAsync("Bob Searches", platform.Gateway2);
        var mallory = await platform.SignUpAsync("Mallory Searches");
        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "search")).GetProperty("id").GetGuid();
        var word = "capybara" + Guid.NewGuid().ToString("N")[..6];
        var message = await platform.SendAsync(alice, group, $"Our {word} meetings moved to Friday");
        await platform.SendAsync(alice, group, "unrelated chatter");

        var path = $"api/v1/search/messages?q={Uri.EscapeDataString(word + " meeting")}";
        var page = await platform.ReadAsync(await bob.Http.GetAsync(path), HttpStatusCode.OK, "Bob searches", platform.Messaging);
        Assert.Equal([message.GetProperty("id").GetGuid()], Found(page));
        var hit = page.GetProperty("items")[0];
        Assert.Equal(group, hit.GetProperty("conversationId").GetGuid());
        Assert.NotEmpty(hit.GetProperty("highlights").EnumerateArray());

        var nothing = await platform.ReadAsync(await mallory.Http.GetAsync(path), HttpStatusCode.OK, "Mallory searches", platform.Messaging);
        Assert.Empty(Found(nothing));
        await platform.ReadAsync(await mallory.Http.GetAsync(path + $"&conversationId={group}"), HttpStatusCode.NotFound, "Mallory names the group", platform.Messaging);
        var bad = await mallory.Http.GetAsync("api/v1/search/messages?q=");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        using var anonymous = platform.Anonymous(platform.Gateway1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);

        // Deleted text is gone from search at once.
        await platform.ReadAsync(await alice.Http.DeleteAsync($"api/v1/conversations/{group}/messages/{message.GetProperty("id").GetGuid()}"),
            HttpStatusCode.NoContent, "Alice deletes her message", platform.Messaging);
        Assert.Empty(Found(await platform.ReadAsync(await bob.Http.GetAsync(path), HttpStatusCode.OK, "Bob searches again", platform.Messaging)));
    }

    [Fact]
    public async Task Threads_ThroughTheGateway_ReplyFollowUnreadAndNothingForANonMember()
    {
        var alice = await platform.SignUpAsync("Alice Threads");
        var bob = await platform.SignUpAsync("Bob Threads", platform.Gateway2);
        var mallory = await platform.SignUpAsync("Mallory Threads");
        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "threads")).GetProperty("id").GetGuid();
        var root = (await platform.SendAsync(alice, group, "release on Monday?")).GetProperty("id").GetGuid();
        var reply = await platform.ReadAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{group}/messages",
            new { clientMessageId = Guid.NewGuid().ToString("N"), text = "yes", replyTo = root }), HttpStatusCode.Created, "Bob replies", platform.Messaging);

        var thread = await platform.ReadAsync(await alice.Http.GetAsync($"api/v1/conversations/{group}/messages/{root}/thread"), HttpStatusCode.OK,
            "Alice opens the thread", platform.Messaging);
        Assert.Equal(root, thread.GetProperty("root").GetProperty("id").GetGuid());
        Assert.Equal([reply.GetProperty("id").GetGuid()], thread.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()));
        var threads = await platform.ReadAsync(await alice.Http.GetAsync("api/v1/threads"), HttpStatusCode.OK, "Alice's threads", platform.Messaging);
        var row = threads.GetProperty("items").EnumerateArray().Single();
        Assert.Equal((root, 1), (row.GetProperty("id").GetGuid(), row.GetProperty("unreadCount").GetInt32()));
        var bobs = await platform.ReadAsync(await bob.Http.GetAsync("api/v1/threads"), HttpStatusCode.OK, "Bob's threads", platform.Messaging);
        Assert.Equal(0, bobs.GetProperty("items").EnumerateArray().Single().GetProperty("unreadCount").GetInt32());

        await platform.ReadAsync(await bob.Http.DeleteAsync($"api/v1/conversations/{group}/messages/{root}/follow"), HttpStatusCode.NoContent, "Bob unfollows", platform.Messaging);
        Assert.Empty((await platform.ReadAsync(await bob.Http.GetAsync("api/v1/threads"), HttpStatusCode.OK, "Bob's threads", platform.Messaging))
            .GetProperty("items").EnumerateArray());

        await platform.ReadAsync(await mallory.Http.GetAsync($"api/v1/conversations/{group}/messages/{root}/thread"), HttpStatusCode.NotFound,
            "Mallory opens the thread", platform.Messaging);
        await platform.ReadAsync(await mallory.Http.PutAsync($"api/v1/conversations/{group}/messages/{root}/follow", null), HttpStatusCode.NotFound,
            "Mallory follows the thread", platform.Messaging);
        Assert.Empty((await platform.ReadAsync(await mallory.Http.GetAsync("api/v1/threads"), HttpStatusCode.OK, "Mallory's threads", platform.Messaging))
            .GetProperty("items").EnumerateArray());
        await platform.ReadAsync(await alice.Http.GetAsync($"api/v1/conversations/{group}/messages/{root}/thread?after=-5"), HttpStatusCode.BadRequest,
            "a negative after", platform.Messaging);
    }

    [Fact]
    public async Task Forward_ThroughTheGateway_CarriesAReferenceOnlyTheOriginsMembersOpen_AndNeedsTheOriginReadable()
    {
        var alice = await platform.SignUpAsync("Alice Forwards");
        var bob = await platform.SignUpAsync("Bob Forwards");
        var carol = await platform.SignUpAsync("Carol Forwards", platform.Gateway2);
        var origin = (await platform.CreateConversationAsync(alice, "group", [bob], "origin")).GetProperty("id").GetGuid();
        var target = (await platform.CreateConversationAsync(alice, "group", [carol], "target")).GetProperty("id").GetGuid();
        var original = (await platform.SendAsync(bob, origin, "numbers for Q3")).GetProperty("id").GetGuid();

        var forward = await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{target}/messages",
            new { clientMessageId = Guid.NewGuid().ToString("N"), forwardedFrom = new { conversationId = origin, messageId = original } }),
            HttpStatusCode.Created, "Alice forwards Bob's message", platform.Messaging);
        var seen = (await platform.ReadAsync(await carol.Http.GetAsync($"api/v1/conversations/{target}/messages"), HttpStatusCode.OK, "Carol reads", platform.Messaging))
            .GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == forward.GetProperty("id").GetGuid());
        Assert.Equal("numbers for Q3", seen.GetProperty("text").GetString());
        Assert.Equal(original, seen.GetProperty("forwardedFrom").GetProperty("messageId").GetGuid());
        await platform.ReadAsync(await carol.Http.GetAsync($"api/v1/conversations/{origin}/messages/{original}"), HttpStatusCode.NotFound,
            "Carol opens the origin", platform.Messaging);

        // Carol cannot read the origin, so she cannot forward it either.
        await platform.ReadAsync(await carol.Http.PostAsJsonAsync($"api/v1/conversations/{target}/messages",
            new { clientMessageId = Guid.NewGuid().ToString("N"), forwardedFrom = new { conversationId = origin, messageId = original } }),
            HttpStatusCode.BadRequest, "Carol forwards from a conversation she is not in", platform.Messaging);
    }

    [Fact]
    public async Task ChannelDirectory_ThroughTheGateway_ListsPublicChannelsToAnyone_WhoCanThenJoin()
    {
        var owner = await platform.SignUpAsync("Owner Lists");
        var visitor = await platform.SignUpAsync("Visitor Finds", platform.Gateway2);
        var tag = "dir" + Guid.NewGuid().ToString("N")[..8];
        var open = (await platform.CreateConversationAsync(owner, "channel", [], $"{tag} open")).GetProperty("id").GetGuid();
        var closed = (await platform.ReadAsync(await owner.Http.PostAsJsonAsync("api/v1/conversations",
            new { kind = "channel", title = $"{tag} closed", isPublic = false, memberIds = Array.Empty<Guid>() }), HttpStatusCode.Created, "a private channel", platform.Messaging))
            .GetProperty("id").GetGuid();

        var found = await platform.ReadAsync(await visitor.Http.GetAsync($"api/v1/channels?q={tag}"), HttpStatusCode.OK, "the visitor looks", platform.Messaging);
        Assert.Equal([open], found.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetGuid()));
        Assert.NotEqual(open, closed);
        await platform.ReadAsync(await visitor.Http.PostAsJsonAsync($"api/v1/conversations/{open}/members", new { userIds = new[] { visitor.Id } }),
            HttpStatusCode.OK, "the visitor joins", platform.Messaging);
        await platform.ReadAsync(await visitor.Http.GetAsync("api/v1/channels?cursor=bad"), HttpStatusCode.BadRequest, "a bad cursor", platform.Messaging);
    }

    [Fact]
    public async Task InviteLink_ThroughTheGateway_PointsAtTheGateway_AndLetsItsHolderJoin_ButNotAMemberMakeOne()
    {
        var owner = await platform.SignUpAsync("Owner Invites");
        var member = await platform.SignUpAsync("Member Cannot Invite");
        var guest = await platform.SignUpAsync("Guest Joins", platform.Gateway2);
        var group = (await platform.CreateConversationAsync(owner, "group", [member], "invites")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await member.Http.PostAsJsonAsync($"api/v1/conversations/{group}/invite-links", new { }), HttpStatusCode.Forbidden,
            "a plain member makes a link", platform.Messaging);
        var link = await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/conversations/{group}/invite-links", new { }), HttpStatusCode.Created,
            "the owner makes a link", platform.Messaging);
        // The link people share is the web app's join page at the Gateway; the app reads and joins through the API.
        var token = link.GetProperty("token").GetString()!;
        var url = new Uri(link.GetProperty("url").GetString()!);
        Assert.Equal(platform.Gateway1.BaseAddress.Authority, url.Authority);
        Assert.Equal($"/join/{token}", url.AbsolutePath);

        await platform.ReadAsync(await guest.Http.GetAsync($"api/v1/conversations/{group}"), HttpStatusCode.NotFound, "the guest before joining", platform.Messaging);
        var preview = await platform.ReadAsync(await guest.Http.GetAsync($"api/v1/invite-links/{token}"), HttpStatusCode.OK, "the guest opens the link", platform.Messaging);
        Assert.Equal(group, preview.GetProperty("conversationId").GetGuid());
        await platform.ReadAsync(await guest.Http.PostAsync($"api/v1/invite-links/{token}/join", null), HttpStatusCode.OK, "the guest joins", platform.Messaging);
        await platform.ReadAsync(await guest.Http.GetAsync($"api/v1/conversations/{group}"), HttpStatusCode.OK, "the guest after joining", platform.Messaging);

        // Revoked through the Gateway, the link stops working at once.
        var latecomer = await platform.SignUpAsync("Latecomer");
        await platform.ReadAsync(await owner.Http.DeleteAsync($"api/v1/conversations/{group}/invite-links/{link.GetProperty("id").GetString()}"),
            HttpStatusCode.NoContent, "the owner revokes the link", platform.Messaging);
        await platform.ReadAsync(await latecomer.Http.PostAsync($"api/v1/invite-links/{token}/join", null), HttpStatusCode.NotFound,
            "joining with a revoked link", platform.Messaging);
    }

    [Fact]
    public async Task ScheduledMessage_ThroughTheGateway_IsSentAtItsTime_OnlyItsAuthorSeesIt_AndNonMembersCannotSchedule()
    {
        var alice = await platform.SignUpAsync("Alice Schedules");
        var bob = await platform.SignUpAsync("Bob Waits", platform.Gateway2);
        var mallory = await platform.SignUpAsync("Mallory Schedules");
        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "scheduled")).GetProperty("id").GetGuid();
        var text = "standup in five " + Guid.NewGuid().ToString("N")[..6];
        var path = $"api/v1/conversations/{group}/scheduled-messages";
        var scheduled = await platform.ReadAsync(await alice.Http.PostAsJsonAsync(path,
            new { clientMessageId = Guid.NewGuid().ToString("N"), text, sendAt = DateTimeOffset.UtcNow.AddSeconds(3) }), HttpStatusCode.Created, "Alice schedules", platform.Messaging);
        Assert.Equal("pending", scheduled.GetProperty("state").GetString());
        Assert.Empty((await platform.ReadAsync(await bob.Http.GetAsync(path), HttpStatusCode.OK, "Bob lists his", platform.Messaging)).GetProperty("items").EnumerateArray());
        await platform.ReadAsync(await mallory.Http.PostAsJsonAsync(path, new { clientMessageId = "m", text = "hi", sendAt = DateTimeOffset.UtcNow.AddMinutes(5) }),
            HttpStatusCode.NotFound, "Mallory schedules in a group she is not in", platform.Messaging);
        var late = await alice.Http.PostAsJsonAsync(path, new { clientMessageId = "late", text = "hi", sendAt = DateTimeOffset.UtcNow.AddMinutes(-5) });
        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (late.StatusCode, late.Content.Headers.ContentType?.MediaType));

        await Eventually.Returns(async () => (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/messages"), HttpStatusCode.OK, "Bob reads",
                platform.Messaging)).GetProperty("items").EnumerateArray().Count(m => m.GetProperty("text").GetString() == text),
            count => count == 1, WholePlatform.Soon, "the scheduled message is sent once");
        Assert.Empty((await platform.ReadAsync(await alice.Http.GetAsync(path), HttpStatusCode.OK, "Alice lists hers", platform.Messaging)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task InviteLinkWithMaxUses_ThroughTheGateway_AdmitsOneAndThenNoOne()
    {
        var owner = await platform.SignUpAsync("Owner Limits");
        var first = await platform.SignUpAsync("First Guest");
        var second = await platform.SignUpAsync("Second Guest", platform.Gateway2);
        var group = (await platform.CreateConversationAsync(owner, "group", [], "one use")).GetProperty("id").GetGuid();
        var link = await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/conversations/{group}/invite-links", new { maxUses = 1 }), HttpStatusCode.Created,
            "a one-use link", platform.Messaging);
        var token = link.GetProperty("token").GetString();
        await platform.ReadAsync(await first.Http.PostAsync($"api/v1/invite-links/{token}/join", null), HttpStatusCode.OK, "the first joins", platform.Messaging);
        await platform.ReadAsync(await second.Http.PostAsync($"api/v1/invite-links/{token}/join", null), HttpStatusCode.NotFound, "the second tries", platform.Messaging);
        var listed = (await platform.ReadAsync(await owner.Http.GetAsync($"api/v1/conversations/{group}/invite-links"), HttpStatusCode.OK, "the owner lists",
            platform.Messaging)).GetProperty("items")[0];
        Assert.Equal((1, 1), (listed.GetProperty("maxUses").GetInt32(), listed.GetProperty("uses").GetInt32()));
        await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/conversations/{group}/invite-links", new { maxUses = -1 }), HttpStatusCode.BadRequest,
            "a negative maxUses", platform.Messaging);
    }

    [Fact]
    public async Task TimeTravel_ThroughTheGateway_ShowsMessagesAndMembersAsTheyWere_AndNothingToANonMember()
    {
        var alice = await platform.SignUpAsync("Alice Travels");
        var bob = await platform.SignUpAsync("Bob Travels", platform.Gateway2);
        var carol = await platform.SignUpAsync("Carol Arrives Later");
        var mallory = await platform.SignUpAsync("Mallory Travels");
        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "time travel")).GetProperty("id").GetGuid();
        var message = (await platform.SendAsync(alice, group, "plan A")).GetProperty("id").GetGuid();
        var point = (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}"), HttpStatusCode.OK, "Bob opens it", platform.Messaging))
            .GetProperty("lastSeq").GetInt64();
        await platform.ReadAsync(await alice.Http.PatchAsJsonAsync($"api/v1/conversations/{group}/messages/{message}", new { text = "plan B" }), HttpStatusCode.OK,
            "Alice edits", platform.Messaging);
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { carol.Id } }), HttpStatusCode.OK,
            "Carol is added", platform.Messaging);

        var then = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/messages?asOfSeq={point}"), HttpStatusCode.OK, "Bob travels back",
            platform.Messaging);
        Assert.Equal("plan A", then.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == message).GetProperty("text").GetString());
        var members = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/members?asOfSeq={point}"), HttpStatusCode.OK, "members then",
            platform.Messaging);
        Assert.DoesNotContain(carol.Id, members.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("userId").GetGuid()));
        var now = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/messages?asOf={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"))}"),
            HttpStatusCode.OK, "Bob travels to the present", platform.Messaging);
        Assert.Equal("plan B", now.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == message).GetProperty("text").GetString());

        await platform.ReadAsync(await mallory.Http.GetAsync($"api/v1/conversations/{group}/messages?asOfSeq={point}"), HttpStatusCode.NotFound, "Mallory travels",
            platform.Messaging);
        await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/messages?asOfSeq=-1"), HttpStatusCode.BadRequest, "a negative seq",
            platform.Messaging);
    }

    [Fact]
    public async Task AtChannelAndThreadFollows_ThroughTheGateway_NotifyAsTheRulesSay()
    {
        var owner = await platform.SignUpAsync("Owner Calls Everyone");
        var member = await platform.SignUpAsync("Member Follows", platform.Gateway2);
        var other = await platform.SignUpAsync("Other Member");
        var channel = (await platform.CreateConversationAsync(owner, "channel", [member, other], "announcements")).GetProperty("id").GetGuid();

        // A plain member's @channel in a channel stays text; the owner's calls everyone.
        var plain = await platform.SendAsync(other, channel, "@channel anyone?");
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("massMention").ValueKind);
        var call = await platform.SendAsync(owner, channel, "@channel release at noon");
        Assert.Equal("channel", call.GetProperty("massMention").GetString());
        bool Has(JsonElement feed, string kind, Guid messageId) => feed.GetProperty("items").EnumerateArray()
            .Any(i => i.GetProperty("kind").GetString() == kind && i.GetProperty("messageId").ValueKind == JsonValueKind.String && i.GetProperty("messageId").GetGuid() == messageId);
        await platform.EventuallyAsync(
            async () => await platform.ReadAsync(await member.Http.GetAsync("api/v1/notifications?limit=100"), HttpStatusCode.OK, "the member's feed", platform.Notifications),
            feed => Has(feed, "mention", call.GetProperty("id").GetGuid()), "the member is mentioned by @channel", platform.Notifications, platform.Messaging);

        // The member follows the other's thread by hand (channels notify only mentions and followed threads by default).
        var root = (await platform.SendAsync(other, channel, "who reviews the notes?")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await member.Http.PutAsync($"api/v1/conversations/{channel}/messages/{root}/follow", null), HttpStatusCode.NoContent,
            "the member follows the thread", platform.Messaging);
        // The follow reaches Notifications on another queue than the replies: reply until one finds it there (the first,
        // nearly always).
        await platform.EventuallyAsync(
            async () =>
            {
                await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/conversations/{channel}/messages",
                    new { clientMessageId = Guid.NewGuid().ToString("N"), text = "I do", replyTo = root }), HttpStatusCode.Created, "the owner replies", platform.Messaging);
                return await platform.ReadAsync(await member.Http.GetAsync("api/v1/notifications?limit=100"), HttpStatusCode.OK, "the member's feed", platform.Notifications);
            },
            feed => feed.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("kind").GetString() == "reply" && i.GetProperty("conversationId").GetGuid() == channel),
            "the follower hears of a reply", platform.Notifications, platform.Messaging);
    }
}
