using System.Net;
using System.Net.Http.Json;

namespace Platform.Messaging.Tests;

/// <summary>Invite links: made by owners and admins, previewed and used by anyone signed in who has one, until they expire.</summary>
public sealed class InviteLinkTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task AnInviteLink_ShowsTheConversation_AndLetsAnyoneWithItJoinOnceAsAMember()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Post($"/api/v1/conversations/{group}/invite-links", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Post($"/api/v1/conversations/{group}/invite-links", new { })).StatusCode);
        var link = await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/invite-links", new { }));
        var token = link.GetProperty("token").GetString()!;
        Assert.EndsWith($"/join/{token}", link.GetProperty("url").GetString());
        Assert.True(link.GetProperty("expiresAt").GetDateTimeOffset() > host.Clock.GetUtcNow().AddDays(6));

        var guest = host.Client();
        var preview = await guest.Get($"/api/v1/invite-links/{token}");
        Assert.Equal((group, 2), (preview.GetProperty("conversationId").GetGuid(), preview.GetProperty("memberCount").GetInt32()));
        var joined = await guest.Json200(await guest.Http.PostAsync($"/api/v1/invite-links/{token}/join", null));
        Assert.Equal(("member", 3), (joined.GetProperty("role").GetString()!.ToLowerInvariant(), joined.GetProperty("memberCount").GetInt32()));
        await guest.Json200(await guest.Http.PostAsync($"/api/v1/invite-links/{token}/join", null));
        Assert.Equal(3, (await guest.Get($"/api/v1/conversations/{group}")).GetProperty("memberCount").GetInt32());
        var log = (await guest.Get($"/api/v1/conversations/{group}/events")).GetProperty("items").EnumerateArray().ToList();
        var joinedEvent = log.Single(e => e.GetProperty("type").GetString() == "member.joined" && e.GetProperty("data").GetProperty("userId").GetGuid() == guest.UserId);
        Assert.Equal(owner.UserId, joinedEvent.GetProperty("actorId").GetGuid());
    }

    [Fact]
    public async Task InviteLinks_AreListedForOwnersAndAdmins_AndARevokedOneStopsWorkingAtOnce()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var first = await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/invite-links", new { }));
        var second = await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/invite-links", new { }));

        var listed = (await owner.Get($"/api/v1/conversations/{group}/invite-links")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([second.GetProperty("id").GetString(), first.GetProperty("id").GetString()], listed.Select(l => l.GetProperty("id").GetString()));
        Assert.All(listed, l => Assert.False(l.TryGetProperty("token", out _)));
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Http.GetAsync($"/api/v1/conversations/{group}/invite-links")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.GetAsync($"/api/v1/conversations/{group}/invite-links")).StatusCode);

        var firstId = first.GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Http.DeleteAsync($"/api/v1/conversations/{group}/invite-links/{firstId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/invite-links/{firstId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/invite-links/{firstId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/invite-links/not-a-link")).StatusCode);

        var guest = host.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await guest.Http.GetAsync($"/api/v1/invite-links/{first.GetProperty("token").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await guest.Http.PostAsync($"/api/v1/invite-links/{first.GetProperty("token").GetString()}/join", null)).StatusCode);
        await guest.Json200(await guest.Http.PostAsync($"/api/v1/invite-links/{second.GetProperty("token").GetString()}/join", null));
        Assert.Single((await owner.Get($"/api/v1/conversations/{group}/invite-links")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task InviteLinks_Expire_FailForBannedUsersAndUnknownTokens_AndAreNotForDirectConversations()
    {
        var owner = host.Client();
        var group = await owner.CreateGroup(Guid.CreateVersion7());
        var soon = host.Clock.GetUtcNow().AddHours(1);
        var token = (await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/invite-links", new { expiresAt = soon }))).GetProperty("token").GetString();
        var banned = host.Client();
        await owner.Json200(await owner.Http.PutAsJsonAsync($"/api/v1/conversations/{group}/bans/{banned.UserId}", new { reason = "spam" }));
        Assert.Equal(HttpStatusCode.Forbidden, (await banned.Http.PostAsync($"/api/v1/invite-links/{token}/join", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await banned.Http.PostAsync("/api/v1/invite-links/not-a-token/join", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await banned.Http.GetAsync("/api/v1/invite-links/not-a-token")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Post($"/api/v1/conversations/{group}/invite-links", new { expiresAt = soon.AddDays(-1) })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Post($"/api/v1/conversations/{group}/invite-links", new { expiresAt = soon.AddDays(60) })).StatusCode);

        host.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.PostAsync($"/api/v1/invite-links/{token}/join", null)).StatusCode);

        var other = host.Client();
        var direct = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { other.UserId } }))).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.Conflict, (await owner.Post($"/api/v1/conversations/{direct}/invite-links", new { })).StatusCode);
    }

    [Fact]
    public async Task AnInviteLinkWithMaxUses_AdmitsExactlyThatManyNewMembers_EvenWhenTheyJoinAtOnce()
    {
        var owner = host.Client();
        var group = await owner.CreateGroup(Guid.CreateVersion7());
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Post($"/api/v1/conversations/{group}/invite-links", new { maxUses = 0 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Post($"/api/v1/conversations/{group}/invite-links", new { maxUses = 1_000_000 })).StatusCode);
        var link = await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/invite-links", new { maxUses = 3 }));
        Assert.Equal(3, link.GetProperty("maxUses").GetInt32());
        var token = link.GetProperty("token").GetString();

        // A member already there uses nothing.
        await owner.Json200(await owner.Http.PostAsync($"/api/v1/invite-links/{token}/join", null));
        var guests = Enumerable.Range(0, 10).Select(_ => host.Client()).ToList();
        var answers = await Task.WhenAll(guests.Select(g => g.Http.PostAsync($"/api/v1/invite-links/{token}/join", null)));
        Assert.Equal(3, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.Equal(7, answers.Count(a => a.StatusCode == HttpStatusCode.NotFound));
        Assert.Equal(2 + 3, (await owner.Get($"/api/v1/conversations/{group}")).GetProperty("memberCount").GetInt32());

        var listed = (await owner.Get($"/api/v1/conversations/{group}/invite-links")).GetProperty("items").EnumerateArray().Single();
        Assert.Equal((3, 3), (listed.GetProperty("maxUses").GetInt32(), listed.GetProperty("uses").GetInt32()));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.GetAsync($"/api/v1/invite-links/{token}")).StatusCode);
        // Used up is used up, even for one who got in with it.
        var admitted = guests[answers.ToList().FindIndex(a => a.StatusCode == HttpStatusCode.OK)];
        Assert.Equal(HttpStatusCode.NotFound, (await admitted.Http.PostAsync($"/api/v1/invite-links/{token}/join", null)).StatusCode);
    }
}
