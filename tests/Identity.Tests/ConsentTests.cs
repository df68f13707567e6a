using System.Net;
using Platform.Contracts.Identity;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>Blocks, privacy settings and the relations services ask about, as Identity keeps and answers them.</summary>
public sealed class ConsentTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task ABlock_IsListed_PublishedAndAnsweredEitherWay_AndUnblockingUndoesIt()
    {
        var (alice, bob, carol) = (await _http.RegisterAsync(), await _http.RegisterAsync(), await _http.RegisterAsync());
        var (aliceToken, bobToken, carolToken) = (await _http.TokenAsync(alice), await _http.TokenAsync(bob), await _http.TokenAsync(carol));
        await using var events = await EventRecorder.StartAsync<BlocksChanged, PrivacyChanged>(identity.Infrastructure.VirtualHost.ConnectionString);

        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Put, $"/api/v1/users/me/blocks/{bob.Id}", aliceToken)).StatusCode);
        // Again: the same block, one row.
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Put, $"/api/v1/users/me/blocks/{bob.Id}", aliceToken)).StatusCode);

        var list = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/blocks", aliceToken)).JsonAsync();
        Assert.Equal([bob.Id], list.GetProperty("items").EnumerateArray().Select(b => b.GetProperty("userId").GetGuid()));
        await events.WaitForAsync<BlocksChanged>(e => e.OwnerId == alice.Id && e.Added.Contains(bob.Id));

        // Relations answer the block to both sides, and to nobody else.
        Assert.True(await BlockedAsync(aliceToken, bob.Id));
        Assert.True(await BlockedAsync(bobToken, alice.Id));
        Assert.False(await BlockedAsync(carolToken, alice.Id));
        Assert.Equal([bob.Id], await BlockedEitherWayAsync(aliceToken));
        Assert.Equal([alice.Id], await BlockedEitherWayAsync(bobToken));
        Assert.Empty(await BlockedEitherWayAsync(carolToken));

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/me/blocks/{bob.Id}", aliceToken)).StatusCode);
        await events.WaitForAsync<BlocksChanged>(e => e.OwnerId == alice.Id && e.Removed.Contains(bob.Id));
        Assert.False(await BlockedAsync(bobToken, alice.Id));
        Assert.Empty(await BlockedEitherWayAsync(bobToken));
    }

    [Fact]
    public async Task Blocks_OfOneselfOrOfNobody_AreRefused()
    {
        var alice = await _http.RegisterAsync();
        var token = await _http.TokenAsync(alice);

        var self = await _http.SendAsync(HttpMethod.Put, $"/api/v1/users/me/blocks/{alice.Id}", token);
        var nobody = await _http.SendAsync(HttpMethod.Put, $"/api/v1/users/me/blocks/{Guid.CreateVersion7()}", token);
        var anonymous = await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/blocks", null);

        Assert.Equal(HttpStatusCode.BadRequest, self.StatusCode);
        Assert.Equal("application/problem+json", self.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, nobody.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/internal/v1/relations/blocked", null)).StatusCode);
    }

    [Fact]
    public async Task PrivacySettings_AreKeptAndPublished_WhoCanAddShowsInRelations_AndBadValuesAre400()
    {
        var (alice, bob) = (await _http.RegisterAsync(), await _http.RegisterAsync());
        var (aliceToken, bobToken) = (await _http.TokenAsync(alice), await _http.TokenAsync(bob));
        await using var events = await EventRecorder.StartAsync<BlocksChanged, PrivacyChanged>(identity.Infrastructure.VirtualHost.ConnectionString);

        var defaults = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/privacy", aliceToken)).JsonAsync();
        Assert.Equal(("everyone", true, "everyone"), (defaults.GetProperty("lastSeen").GetString(), defaults.GetProperty("readReceipts").GetBoolean(), defaults.GetProperty("whoCanAdd").GetString()));
        Assert.True(await AllowsAddAsync(bobToken, alice.Id));

        var set = await _http.SendAsync(HttpMethod.Put, "/api/v1/users/me/privacy", aliceToken, new { lastSeen = "nobody", readReceipts = false, whoCanAdd = "contacts" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        await events.WaitForAsync<PrivacyChanged>(e => e.UserId == alice.Id && e.LastSeen == "nobody" && !e.ReadReceipts && e.WhoCanAdd == "contacts");
        var now = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/privacy", aliceToken)).JsonAsync();
        Assert.Equal("nobody", now.GetProperty("lastSeen").GetString());
        Assert.False(await AllowsAddAsync(bobToken, alice.Id));

        foreach (var bad in new object[] { new { lastSeen = "friends" }, new { whoCanAdd = "nobody" }, new { lastSeen = 3 } })
        {
            var refused = await _http.SendAsync(HttpMethod.Put, "/api/v1/users/me/privacy", aliceToken, bad);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal("nobody", (await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/privacy", aliceToken)).JsonAsync()).GetProperty("lastSeen").GetString());
    }

    [Fact]
    public async Task Relations_SayWhoExists_AndRefuseTooManyIds()
    {
        var alice = await _http.RegisterAsync();
        var token = await _http.TokenAsync(alice);
        var ghost = Guid.CreateVersion7();

        var answer = await (await _http.SendAsync(HttpMethod.Post, "/internal/v1/relations", token, new { userIds = new[] { alice.Id, ghost } })).JsonAsync();
        var exists = answer.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("userId").GetGuid(), i => i.GetProperty("exists").GetBoolean());
        Assert.True(exists[alice.Id]);
        Assert.False(exists[ghost]);

        var tooMany = await _http.SendAsync(HttpMethod.Post, "/internal/v1/relations", token, new { userIds = Enumerable.Range(0, 1001).Select(_ => Guid.CreateVersion7()) });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    private async Task<System.Text.Json.JsonElement> RelationAsync(string token, Guid other)
    {
        var answer = await (await _http.SendAsync(HttpMethod.Post, "/internal/v1/relations", token, new { userIds = new[] { other } })).JsonAsync();
        return answer.GetProperty("items")[0];
    }

    private async Task<bool> BlockedAsync(string token, Guid other) => (await RelationAsync(token, other)).GetProperty("blocked").GetBoolean();

    private async Task<bool> AllowsAddAsync(string token, Guid other) => (await RelationAsync(token, other)).GetProperty("allowsAdd").GetBoolean();

    private async Task<IReadOnlyList<Guid>> BlockedEitherWayAsync(string token) =>
        (await (await _http.SendAsync(HttpMethod.Get, "/internal/v1/relations/blocked", token)).JsonAsync())
            .GetProperty("userIds").EnumerateArray().Select(id => id.GetGuid()).ToList();
}
