using System.Net;
using System.Net.Http.Json;

namespace Platform.Tests;

/// <summary>Moderation through the Gateway, seen by the moderated member's own JS client on the other Gateway.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class ModerationTests(WholePlatform platform)
{
    [Fact]
    public async Task ABannedMember_ReceivesTheBanAndTheirLeaving_ThenNothing_AndCannotPostOrRejoin()
    {
        var alice = await platform.SignUpAsync("Alice Moderates");
        var bob = await platform.SignUpAsync("Bob Gets Banned", platform.Gateway2);
        var channel = (await platform.CreateConversationAsync(alice, "channel", [bob], "moderated")).GetProperty("id").GetGuid();
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        await bobClient.InvokeAsync("Resume", channel, 0);

        await platform.ReadAsync(await alice.Http.PutAsJsonAsync($"api/v1/conversations/{channel}/bans/{bob.Id}", new { reason = "spam" }),
            HttpStatusCode.OK, "Alice bans Bob", platform.Messaging);
        var left = await bobClient.NextAsync("event", e => e.GetProperty("conversationId").GetGuid() == channel && e.GetProperty("type").GetString() == "member.left",
            "Bob's client is told he left");
        await platform.SendAsync(alice, channel, "after the ban");

        var bobsEvents = bobClient.Calls("event").Where(e => e.GetProperty("conversationId").GetGuid() == channel).ToList();
        var banned = bobsEvents.Single(e => e.GetProperty("type").GetString() == "member.banned");
        Assert.Equal(alice.Id, banned.GetProperty("actorId").GetGuid());
        Assert.Equal(banned.GetProperty("seq").GetInt64() + 1, left.GetProperty("seq").GetInt64());
        var posted = await bob.Http.PostAsJsonAsync($"api/v1/conversations/{channel}/messages", new { clientMessageId = "banned", text = "let me in" });
        Assert.Equal(HttpStatusCode.NotFound, posted.StatusCode);
        var rejoin = await bob.Http.PostAsJsonAsync($"api/v1/conversations/{channel}/members", new { userIds = new[] { bob.Id } });
        Assert.Equal(HttpStatusCode.Forbidden, rejoin.StatusCode);
        // Alice's message after the ban went out (the log has it) and never reached Bob's connection.
        var log = await platform.ReadAsync(await alice.Http.GetAsync($"api/v1/conversations/{channel}/events?after={left.GetProperty("seq").GetInt64()}"),
            HttpStatusCode.OK, "Alice reads the log", platform.Messaging);
        Assert.Single(log.GetProperty("items").EnumerateArray());
        // A new connection of Bob's resuming the channel from the start replays it up to his leaving, and nothing after.
        await using var again = await platform.ConnectAsync(bob, platform.Gateway1);
        await again.InvokeAsync("Resume", channel, 0);
        await again.NextAsync("event", e => e.GetProperty("conversationId").GetGuid() == channel && e.GetProperty("seq").GetInt64() == left.GetProperty("seq").GetInt64(),
            "the banned member's replay reaches his leaving");
        // Witnesses: Alice's own connections on both Gateways. Each Gateway offers an event to all its connections of the
        // conversation at once, so once both witnesses have it, Bob's connections were passed over, not yet to come.
        await using var witness1 = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var witness2 = await platform.ConnectAsync(alice, platform.Gateway2);
        var laterStill = (await platform.SendAsync(alice, channel, "later still")).GetProperty("seq").GetInt64();
        foreach (var witness in new[] { witness1, witness2 })
            await witness.NextAsync("event", e => e.GetProperty("conversationId").GetGuid() == channel && e.GetProperty("seq").GetInt64() == laterStill,
                "Alice's connection gets her message");
        Assert.DoesNotContain(bobClient.Calls("event"), e => e.GetProperty("conversationId").GetGuid() == channel && e.GetProperty("seq").GetInt64() > left.GetProperty("seq").GetInt64());
        Assert.DoesNotContain(again.Calls("event"), e => e.GetProperty("conversationId").GetGuid() == channel && e.GetProperty("seq").GetInt64() > left.GetProperty("seq").GetInt64());
    }
}
