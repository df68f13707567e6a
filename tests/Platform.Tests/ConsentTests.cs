using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Tests;

/// <summary>Consent through the Gateway: blocks, member ids checked against Identity, privacy, message requests, reports.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class ConsentTests(WholePlatform platform)
{
    [Fact]
    public async Task ABlock_RefusesDirectMessagesAddsCallsAndPresence_EitherWay_AndEndsALiveWatch()
    {
        var alice = await platform.SignUpAsync("Alice Blocks");
        var bob = await platform.SignUpAsync("Bob Is Blocked");
        var carol = await platform.SignUpAsync("Carol Watches");
        var direct = (await platform.ReadAsync(await bob.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.Id } }),
            HttpStatusCode.Created, "Bob opens a DM with Alice", platform.Messaging)).GetProperty("id").GetGuid();
        await platform.ReadAsync(await alice.Http.PostAsync($"api/v1/conversations/{direct}/accept", null), HttpStatusCode.NoContent, "Alice accepts", platform.Messaging);
        var group = (await platform.CreateConversationAsync(alice, "group", [carol], "alice's group")).GetProperty("id").GetGuid();

        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        await using var carolClient = await platform.ConnectAsync(carol, platform.Gateway2);
        foreach (var (client, who) in new[] { (bobClient, "Bob"), (carolClient, "Carol") })
            await platform.EventuallyAsync(() => client.InvokeAsync("WatchPresence", (object)new[] { alice.Id.ToString() }),
                now => now[0].GetProperty("status").GetString() == "online", $"{who} sees Alice online", platform.Presence, platform.Gateway2);

        var blocked = await platform.ReadAsync(await alice.Http.PutAsync($"api/v1/users/me/blocks/{bob.Id}", null),
            HttpStatusCode.OK, "Alice blocks Bob", platform.Identity);
        Assert.Equal(bob.Id, blocked.GetProperty("userId").GetGuid());
        var list = await platform.ReadAsync(await alice.Http.GetAsync("api/v1/users/me/blocks"), HttpStatusCode.OK, "Alice's blocks", platform.Identity);
        Assert.Equal([bob.Id], list.GetProperty("items").EnumerateArray().Select(b => b.GetProperty("userId").GetGuid()));

        // Bob's live watch ends (he is told Alice is unknown now); Carol's goes on.
        await bobClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == alice.Id && p.GetProperty("status").GetString() == "unknown",
            "Bob's watch of Alice is revoked");
        await platform.ReadAsync(await alice.Http.PutAsJsonAsync("api/v1/presence/me", new { status = "dnd" }), HttpStatusCode.OK, "Alice goes dnd", platform.Presence);
        await carolClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == alice.Id && p.GetProperty("availability").ValueKind == JsonValueKind.String
            && p.GetProperty("availability").GetString() == "dnd", "Carol sees Alice's dnd");
        Assert.DoesNotContain(bobClient.Calls("presence"), p => p.GetProperty("userId").GetGuid() == alice.Id && p.TryGetProperty("availability", out var a)
            && a.ValueKind == JsonValueKind.String && a.GetString() == "dnd");
        var seen = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/presence?userIds={alice.Id}"), HttpStatusCode.OK, "Bob asks for Alice's presence", platform.Presence);
        Assert.Equal("unknown", seen.GetProperty("items")[0].GetProperty("status").GetString());
        var theOtherWay = await platform.ReadAsync(await alice.Http.GetAsync($"api/v1/presence?userIds={bob.Id}"), HttpStatusCode.OK, "Alice asks for Bob's presence", platform.Presence);
        Assert.Equal("unknown", theOtherWay.GetProperty("items")[0].GetProperty("status").GetString());

        // Neither opens a DM with the other, adds the other, or rings the other.
        await RefusedAsync(await bob.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.Id } }), HttpStatusCode.Forbidden, "Bob's new DM");
        await RefusedAsync(await alice.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.Id } }), HttpStatusCode.Forbidden, "Alice's new DM");
        await RefusedAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { bob.Id } }), HttpStatusCode.Forbidden, "Alice adding Bob");
        await RefusedAsync(await bob.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "group", title = "with alice", memberIds = new[] { alice.Id, carol.Id } }),
            HttpStatusCode.Forbidden, "Bob's group with Alice");
        await RefusedAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{direct}/calls", new { kind = "audio" }), HttpStatusCode.Forbidden, "Bob ringing Alice");

        // Nor do they write in the DM they already share (Messaging learns the block from the bus: within moments).
        await platform.EventuallyAsync(async () => (await bob.Http.PostAsJsonAsync($"api/v1/conversations/{direct}/messages",
                new { clientMessageId = Guid.NewGuid().ToString("N"), text = "hello?" })).StatusCode,
            status => status == HttpStatusCode.Forbidden, "Bob's sends to Alice are refused", platform.Messaging);
        await RefusedAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{direct}/messages", new { clientMessageId = "a", text = "go away" }),
            HttpStatusCode.Forbidden, "Alice writing to Bob");

        // Unblocked, all of it works again.
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"api/v1/users/me/blocks/{bob.Id}")).StatusCode);
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { bob.Id } }),
            HttpStatusCode.OK, "Alice adds Bob after unblocking", platform.Messaging);
    }

    [Fact]
    public async Task TypingInAGroup_IsNotShownAcrossABlock_EitherWay()
    {
        var alice = await platform.SignUpAsync("Alice Types");
        var bob = await platform.SignUpAsync("Bob Types Too");
        var carol = await platform.SignUpAsync("Carol Sees Both");
        var group = (await platform.CreateConversationAsync(carol, "group", [alice, bob], "three")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await alice.Http.PutAsync($"api/v1/users/me/blocks/{bob.Id}", null), HttpStatusCode.OK, "Alice blocks Bob", platform.Identity);
        // Carol on both instances: the connection beside the blocked side receives the same broadcast it is left out of.
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var carolOnOne = await platform.ConnectAsync(carol, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        await using var carolOnTwo = await platform.ConnectAsync(carol, platform.Gateway2);

        await bobClient.InvokeAsync("Typing", group.ToString());
        await carolOnOne.NextAsync("typing", t => t.GetProperty("userId").GetGuid() == bob.Id, "Carol sees Bob typing");
        await aliceClient.InvokeAsync("Typing", group.ToString());
        await carolOnTwo.NextAsync("typing", t => t.GetProperty("userId").GetGuid() == alice.Id, "Carol sees Alice typing");

        Assert.DoesNotContain(aliceClient.Calls("typing"), t => t.GetProperty("userId").GetGuid() == bob.Id);
        Assert.DoesNotContain(bobClient.Calls("typing"), t => t.GetProperty("userId").GetGuid() == alice.Id);
    }

    [Fact]
    public async Task LeavingTheOnlyConversationTwoShare_EndsTheirLiveWatchesOfEachOther()
    {
        var alice = await platform.SignUpAsync("Alice Leaves");
        var bob = await platform.SignUpAsync("Bob Stays");
        var group = (await platform.CreateConversationAsync(bob, "group", [alice], "for a while")).GetProperty("id").GetGuid();
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        foreach (var (client, who, whom) in new[] { (bobClient, "Bob", alice), (aliceClient, "Alice", bob) })
            await platform.EventuallyAsync(() => client.InvokeAsync("WatchPresence", (object)new[] { whom.Id.ToString() }),
                now => now[0].GetProperty("status").GetString() == "online", $"{who} sees the other online", platform.Presence, platform.Gateway1, platform.Gateway2);

        await platform.ReadAsync(await alice.Http.PostAsync($"api/v1/conversations/{group}/leave", null), HttpStatusCode.NoContent, "Alice leaves", platform.Messaging);

        // Nothing shared any more: each live watch of the other ends, both ways.
        await bobClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == alice.Id && p.GetProperty("status").GetString() == "unknown",
            "Bob's watch of Alice ends");
        await aliceClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == bob.Id && p.GetProperty("status").GetString() == "unknown",
            "Alice's watch of Bob ends");
        // A witness on Bob's Gateway who still shares a conversation with Alice: a presence change goes to all the watchers
        // on an instance at once, so once the witness has Alice's dnd, Bob's connection was passed over, not yet to come.
        var carol = await platform.SignUpAsync("Carol Witnesses");
        await platform.CreateConversationAsync(carol, "group", [alice], "witness");
        await using var carolClient = await platform.ConnectAsync(carol, platform.Gateway2);
        await platform.EventuallyAsync(() => carolClient.InvokeAsync("WatchPresence", (object)new[] { alice.Id.ToString() }),
            now => now[0].GetProperty("status").GetString() == "online", "Carol sees Alice online", platform.Presence, platform.Gateway2);
        await platform.ReadAsync(await alice.Http.PutAsJsonAsync("api/v1/presence/me", new { status = "dnd" }), HttpStatusCode.OK, "Alice goes dnd", platform.Presence);
        await carolClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == alice.Id && p.TryGetProperty("availability", out var a)
            && a.ValueKind == JsonValueKind.String && a.GetString() == "dnd", "Carol sees Alice dnd");
        Assert.DoesNotContain(bobClient.Calls("presence"), p => p.GetProperty("userId").GetGuid() == alice.Id && p.TryGetProperty("availability", out var a)
            && a.ValueKind == JsonValueKind.String && a.GetString() == "dnd");
    }

    [Fact]
    public async Task Blocks_RefuseBadInput()
    {
        var alice = await platform.SignUpAsync("Alice Blocks Badly");
        await RefusedAsync(await alice.Http.PutAsync($"api/v1/users/me/blocks/{Guid.NewGuid()}", null), HttpStatusCode.NotFound, "blocking nobody");
        await RefusedAsync(await alice.Http.PutAsync($"api/v1/users/me/blocks/{alice.Id}", null), HttpStatusCode.BadRequest, "blocking oneself");
        await RefusedAsync(await alice.Http.GetAsync("api/v1/users/me/blocks?limit=0"), HttpStatusCode.BadRequest, "a zero limit");
        using var anonymous = platform.Anonymous(platform.Gateway1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/users/me/blocks")).StatusCode);
    }

    [Fact]
    public async Task MemberIds_AreCheckedAgainstIdentity_AndListsAreBounded()
    {
        var alice = await platform.SignUpAsync("Alice Names Ghosts");
        var bob = await platform.SignUpAsync("Bob Is Real");
        var ghost = Guid.NewGuid();
        var problem = await RefusedAsync(await alice.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "channel", title = "ghosts", memberIds = new[] { bob.Id, ghost } }),
            HttpStatusCode.BadRequest, "a channel with a made-up member");
        Assert.Contains(ghost.ToString(), problem.GetProperty("detail").GetString());
        await RefusedAsync(await alice.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { ghost } }), HttpStatusCode.BadRequest, "a DM with nobody");
        var twoThousand = Enumerable.Range(0, 2000).Select(_ => Guid.NewGuid()).ToArray();
        await RefusedAsync(await alice.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "channel", title = "huge", memberIds = twoThousand }),
            HttpStatusCode.BadRequest, "a channel with 2,000 member ids");

        // A user registered a moment ago is a user at once (Messaging asks Identity; no event to wait for).
        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "real")).GetProperty("id").GetGuid();
        var carol = await platform.SignUpAsync("Carol Just Registered");
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { carol.Id } }),
            HttpStatusCode.OK, "adding a brand-new user", platform.Messaging);
        await RefusedAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { ghost } }), HttpStatusCode.BadRequest, "adding nobody");
        await RefusedAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = twoThousand }), HttpStatusCode.BadRequest, "adding 2,000");
        var inbox = await platform.ReadAsync(await alice.Http.GetAsync("api/v1/conversations"), HttpStatusCode.OK, "Alice's inbox", platform.Messaging);
        Assert.Single(inbox.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task PrivacySettings_HideLastSeenAndReadPositions_AndLimitWhoAdds()
    {
        var alice = await platform.SignUpAsync("Alice Shares A DM");
        var bob = await platform.SignUpAsync("Bob Is Private");
        var dave = await platform.SignUpAsync("Dave Is Bob's Contact");
        await platform.VerifyEmailAsync(dave);
        await platform.ReadAsync(await bob.Http.PostAsJsonAsync("api/v1/contacts/import", new { emails = new[] { dave.Email } }), HttpStatusCode.OK, "Bob imports Dave", platform.Identity);
        var direct = (await platform.ReadAsync(await bob.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.Id } }),
            HttpStatusCode.Created, "Bob opens a DM with Alice", platform.Messaging)).GetProperty("id").GetGuid();
        await platform.ReadAsync(await alice.Http.PostAsync($"api/v1/conversations/{direct}/accept", null), HttpStatusCode.NoContent, "Alice accepts", platform.Messaging);

        var defaults = await platform.ReadAsync(await bob.Http.GetAsync("api/v1/users/me/privacy"), HttpStatusCode.OK, "Bob's settings", platform.Identity);
        Assert.Equal(("everyone", true, "everyone"), (defaults.GetProperty("lastSeen").GetString(), defaults.GetProperty("readReceipts").GetBoolean(), defaults.GetProperty("whoCanAdd").GetString()));
        await RefusedAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { lastSeen = "friends" }), HttpStatusCode.BadRequest, "an unknown lastSeen");
        await RefusedAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { whoCanAdd = "nobody" }), HttpStatusCode.BadRequest, "an unknown whoCanAdd");

        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await platform.EventuallyAsync(() => aliceClient.InvokeAsync("WatchPresence", (object)new[] { bob.Id.ToString() }),
            now => now[0].GetProperty("status").GetString() != "unknown", "Alice sees Bob's presence", platform.Presence, platform.Gateway1);

        // lastSeen: contacts. Alice (no contact of Bob's) loses sight of him, live too; Dave (Bob's contact) keeps it.
        var contactsOnly = await platform.ReadAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { lastSeen = "contacts" }),
            HttpStatusCode.OK, "Bob shows his presence to contacts only", platform.Identity);
        Assert.Equal("contacts", contactsOnly.GetProperty("lastSeen").GetString());
        await aliceClient.NextAsync("presence", p => p.GetProperty("userId").GetGuid() == bob.Id && p.GetProperty("status").GetString() == "unknown", "Alice's watch of Bob ends");
        Assert.Equal("unknown", await PresenceOfAsync(alice, bob));
        await platform.EventuallyAsync(() => PresenceOfAsync(dave, bob), status => status != "unknown", "Dave still sees Bob", platform.Presence);
        await platform.ReadAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { lastSeen = "nobody" }), HttpStatusCode.OK, "Bob hides from everyone", platform.Identity);
        await platform.EventuallyAsync(() => PresenceOfAsync(dave, bob), status => status == "unknown", "Dave no longer sees Bob", platform.Presence);

        // readReceipts off: Alice learns Bob got her messages, not that he read them.
        await platform.ReadAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { readReceipts = false }), HttpStatusCode.OK, "Bob turns read receipts off", platform.Identity);
        var first = await platform.SendAsync(alice, direct, "did you read this?");
        await platform.ReadAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{direct}/receipts", new { read = first.GetProperty("seq").GetInt64() }),
            HttpStatusCode.OK, "Bob reads", platform.Messaging);
        var receipts = await platform.EventuallyAsync(
            async () => await platform.ReadAsync(await alice.Http.GetAsync($"api/v1/conversations/{direct}/messages/{first.GetProperty("id").GetGuid()}/receipts"),
                HttpStatusCode.OK, "Alice's message receipts", platform.Messaging),
            r => r.GetProperty("readBy").GetInt32() == 0, "Bob's read is not counted", platform.Messaging);
        Assert.Equal(1, receipts.GetProperty("deliveredTo").GetInt32());
        var second = await platform.SendAsync(alice, direct, "and this?");
        var seq = second.GetProperty("seq").GetInt64();
        await platform.ReadAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{direct}/receipts", new { read = seq }), HttpStatusCode.OK, "Bob reads again", platform.Messaging);
        var receipt = await aliceClient.NextAsync("receipt", r => r.GetProperty("userId").GetGuid() == bob.Id && r.GetProperty("delivered").GetInt64() == seq,
            "Alice is told Bob got it");
        Assert.Equal(JsonValueKind.Null, receipt.GetProperty("read").ValueKind);
        // (The first read may have gone out before Messaging had the setting; the second one came after it did.)
        Assert.DoesNotContain(aliceClient.Calls("receipt"), r => r.GetProperty("userId").GetGuid() == bob.Id && r.GetProperty("read").ValueKind == JsonValueKind.Number
            && r.GetProperty("read").GetInt64() >= seq);

        // whoCanAdd: contacts. Alice may not put Bob in a group; Dave may.
        await platform.ReadAsync(await bob.Http.PutAsJsonAsync("api/v1/users/me/privacy", new { whoCanAdd = "contacts" }), HttpStatusCode.OK, "Bob limits adds", platform.Identity);
        await RefusedAsync(await alice.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "group", title = "no", memberIds = new[] { bob.Id } }), HttpStatusCode.Forbidden, "Alice adding Bob");
        await platform.CreateConversationAsync(dave, "group", [bob], "yes");
        var settings = await platform.ReadAsync(await bob.Http.GetAsync("api/v1/users/me/privacy"), HttpStatusCode.OK, "Bob's settings now", platform.Identity);
        Assert.Equal(("nobody", false, "contacts"), (settings.GetProperty("lastSeen").GetString(), settings.GetProperty("readReceipts").GetBoolean(), settings.GetProperty("whoCanAdd").GetString()));
    }

    [Fact]
    public async Task ADirectMessageFromAStranger_IsARequest_ThatHidesPresenceAndReceipts_UntilAccepted()
    {
        var victim = await platform.SignUpAsync("Vic Gets Requests");
        var mallory = await platform.SignUpAsync("Mallory Is A Stranger");
        var friend = await platform.SignUpAsync("Fred Is A Contact");
        await platform.VerifyEmailAsync(friend);
        await platform.ReadAsync(await victim.Http.PostAsJsonAsync("api/v1/contacts/import", new { emails = new[] { friend.Email } }), HttpStatusCode.OK, "Vic imports Fred", platform.Identity);

        var request = (await platform.ReadAsync(await mallory.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { victim.Id } }),
            HttpStatusCode.Created, "Mallory writes to Vic", platform.Messaging)).GetProperty("id").GetGuid();
        var fromFriend = (await platform.ReadAsync(await friend.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { victim.Id } }),
            HttpStatusCode.Created, "Fred writes to Vic", platform.Messaging)).GetProperty("id").GetGuid();
        Assert.Equal("requested", await StateAsync(victim, request));
        Assert.Equal("active", await StateAsync(mallory, request));
        Assert.Equal("active", await StateAsync(victim, fromFriend));

        // Before Vic accepts, Mallory sees neither his receipts nor his presence.
        var hello = await platform.SendAsync(mallory, request, "hello there");
        await platform.ReadAsync(await victim.Http.PostAsJsonAsync($"api/v1/conversations/{request}/receipts", new { read = hello.GetProperty("seq").GetInt64() }),
            HttpStatusCode.OK, "Vic reads the request", platform.Messaging);
        var hidden = await platform.ReadAsync(await mallory.Http.GetAsync($"api/v1/conversations/{request}/messages/{hello.GetProperty("id").GetGuid()}/receipts"),
            HttpStatusCode.OK, "Mallory's receipts", platform.Messaging);
        Assert.Equal((0, 0), (hidden.GetProperty("deliveredTo").GetInt32(), hidden.GetProperty("readBy").GetInt32()));
        await platform.EventuallyAsync(() => PresenceOfAsync(friend, victim), status => status != "unknown", "Fred, whose DM is no request, sees Vic", platform.Presence);
        Assert.Equal("unknown", await PresenceOfAsync(mallory, victim));

        await RefusedAsync(await victim.Http.PostAsync($"api/v1/conversations/{fromFriend}/decline", null), HttpStatusCode.Conflict, "declining what is no request");
        await RefusedAsync(await friend.Http.PostAsync($"api/v1/conversations/{request}/accept", null), HttpStatusCode.NotFound, "a non-member accepting");
        await platform.ReadAsync(await victim.Http.PostAsync($"api/v1/conversations/{request}/accept", null), HttpStatusCode.NoContent, "Vic accepts", platform.Messaging);
        Assert.Equal("active", await StateAsync(victim, request));
        await platform.EventuallyAsync(() => PresenceOfAsync(mallory, victim), status => status != "unknown", "Mallory sees Vic once accepted", platform.Presence);
        await platform.ReadAsync(await victim.Http.PostAsJsonAsync($"api/v1/conversations/{request}/receipts", new { read = hello.GetProperty("seq").GetInt64() + 1 }),
            HttpStatusCode.OK, "Vic reads on", platform.Messaging);
        var shown = await platform.ReadAsync(await mallory.Http.GetAsync($"api/v1/conversations/{request}/messages/{hello.GetProperty("id").GetGuid()}/receipts"),
            HttpStatusCode.OK, "Mallory's receipts now", platform.Messaging);
        Assert.Equal(1, shown.GetProperty("readBy").GetInt32());

        // Leaving a DM: it takes no more messages until the leaver opens it again.
        await platform.ReadAsync(await victim.Http.PostAsync($"api/v1/conversations/{request}/leave", null), HttpStatusCode.NoContent, "Vic leaves", platform.Messaging);
        await RefusedAsync(await mallory.Http.PostAsJsonAsync($"api/v1/conversations/{request}/messages", new { clientMessageId = "after-leave", text = "hey?" }),
            HttpStatusCode.Conflict, "Mallory writing to a DM Vic left");
        await platform.ReadAsync(await mallory.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { victim.Id } }),
            HttpStatusCode.OK, "Mallory opening it again does not bring Vic back", platform.Messaging);
        await RefusedAsync(await mallory.Http.PostAsJsonAsync($"api/v1/conversations/{request}/messages", new { clientMessageId = "after-reopen", text = "hey??" }),
            HttpStatusCode.Conflict, "still no messages");
        await platform.ReadAsync(await victim.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { mallory.Id } }),
            HttpStatusCode.OK, "Vic opens it again", platform.Messaging);
        await platform.SendAsync(mallory, request, "welcome back");

        // Declining a request: Vic leaves it, and it takes no more messages.
        var eve = await platform.SignUpAsync("Eve Is Declined");
        var declined = (await platform.ReadAsync(await eve.Http.PostAsJsonAsync("api/v1/conversations", new { kind = "direct", memberIds = new[] { victim.Id } }),
            HttpStatusCode.Created, "Eve writes to Vic", platform.Messaging)).GetProperty("id").GetGuid();
        await platform.ReadAsync(await victim.Http.PostAsync($"api/v1/conversations/{declined}/decline", null), HttpStatusCode.NoContent, "Vic declines", platform.Messaging);
        Assert.Null(await StateAsync(victim, declined));
        await RefusedAsync(await eve.Http.PostAsJsonAsync($"api/v1/conversations/{declined}/messages", new { clientMessageId = "pls", text = "please" }),
            HttpStatusCode.Conflict, "Eve writing after the decline");

        // Leaving a group works as removing oneself.
        var group = (await platform.CreateConversationAsync(friend, "group", [victim], "fred's")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await victim.Http.PostAsync($"api/v1/conversations/{group}/leave", null), HttpStatusCode.NoContent, "Vic leaves the group", platform.Messaging);
        await RefusedAsync(await victim.Http.PostAsync($"api/v1/conversations/{group}/leave", null), HttpStatusCode.NotFound, "leaving twice");
    }

    /// <summary>The inbox row's state, or null when the conversation is not in the user's inbox.</summary>
    private async Task<string?> StateAsync(User user, Guid conversationId)
    {
        var inbox = await platform.ReadAsync(await user.Http.GetAsync("api/v1/conversations?limit=100"), HttpStatusCode.OK, "an inbox", platform.Messaging);
        return inbox.GetProperty("items").EnumerateArray().Where(row => row.GetProperty("id").GetGuid() == conversationId)
            .Select(row => row.GetProperty("state").GetString()).SingleOrDefault();
    }

    private async Task<string?> PresenceOfAsync(User viewer, User subject) =>
        (await platform.ReadAsync(await viewer.Http.GetAsync($"api/v1/presence?userIds={subject.Id}"), HttpStatusCode.OK, "a presence query", platform.Presence))
        .GetProperty("items")[0].GetProperty("status").GetString();

    /// <summary>A refusal with the expected status, as problem details.</summary>
    private static async Task<JsonElement> RefusedAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} instead of {(int)expected}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement.Clone();
            Assert.True(problem.TryGetProperty("title", out _), body);
            return problem;
        }
    }
}
