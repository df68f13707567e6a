using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Messaging.Tests;

/// <summary>Bans, timeouts and slow mode through the API, and the events they leave in the log.</summary>
public sealed class ModerationTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static async Task AssertStatus(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode} instead of {(int)expected}: {body}");
    }

    private static Task<HttpResponseMessage> Put(ChatClient client, string path, object body) => client.Http.PutAsJsonAsync(path, body, ChatClient.Json);

    [Fact]
    public async Task ABannedMember_IsRemoved_CannotRejoinAPublicChannelOrBeAdded_UntilUnbanned_AndTheLogSaysWhoDidIt()
    {
        var owner = host.Client();
        var spammer = host.Client();
        var channel = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "Open", memberIds = new[] { spammer.UserId } })))
            .GetProperty("id").GetGuid();
        await spammer.Send(channel, "buy now");

        var ban = await owner.Json200(await Put(owner, $"/api/v1/conversations/{channel}/bans/{spammer.UserId}", new { reason = "spam" }));
        Assert.Equal("spam", ban.GetProperty("reason").GetString());

        await AssertStatus(await spammer.Post($"/api/v1/conversations/{channel}/messages", new { clientMessageId = "again", text = "buy now!" }), HttpStatusCode.NotFound);
        await AssertStatus(await spammer.Post($"/api/v1/conversations/{channel}/members", new { userIds = new[] { spammer.UserId } }), HttpStatusCode.Forbidden);
        await AssertStatus(await owner.Post($"/api/v1/conversations/{channel}/members", new { userIds = new[] { spammer.UserId } }), HttpStatusCode.Forbidden);
        var bans = await owner.Get($"/api/v1/conversations/{channel}/bans");
        Assert.Equal(spammer.UserId, Assert.Single(bans.GetProperty("items").EnumerateArray()).GetProperty("userId").GetGuid());
        await AssertStatus(await spammer.Http.GetAsync($"/api/v1/conversations/{channel}/bans"), HttpStatusCode.NotFound);

        var log = (await owner.Get($"/api/v1/conversations/{channel}/events")).GetProperty("items").EnumerateArray().ToList();
        var banned = log.Single(e => e.GetProperty("type").GetString() == "member.banned");
        Assert.Equal(owner.UserId, banned.GetProperty("actorId").GetGuid());
        Assert.Equal(spammer.UserId, banned.GetProperty("data").GetProperty("userId").GetGuid());
        Assert.Equal("member.left", log[log.IndexOf(banned) + 1].GetProperty("type").GetString());

        await AssertStatus(await owner.Http.DeleteAsync($"/api/v1/conversations/{channel}/bans/{spammer.UserId}"), HttpStatusCode.NoContent);
        await spammer.Json200(await spammer.Post($"/api/v1/conversations/{channel}/members", new { userIds = new[] { spammer.UserId } }));
        await spammer.Send(channel, "sorry");
    }

    [Fact]
    public async Task ATimedOutMember_CannotPostOrReact_UntilTheTimeoutIsLifted()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var message = (await owner.Send(group, "rules")).GetProperty("id").GetGuid();

        var timeout = await owner.Json200(await Put(owner, $"/api/v1/conversations/{group}/timeouts/{member.UserId}", new { until = DateTimeOffset.UtcNow.AddHours(1) }));
        Assert.Equal(member.UserId, timeout.GetProperty("userId").GetGuid());
        await AssertStatus(await member.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "m1", text = "hey" }), HttpStatusCode.Forbidden);
        await AssertStatus(await member.Http.PutAsync($"/api/v1/conversations/{group}/messages/{message}/reactions/👍", null), HttpStatusCode.Forbidden);
        await AssertStatus(await Put(member, $"/api/v1/conversations/{group}/timeouts/{owner.UserId}", new { until = DateTimeOffset.UtcNow.AddHours(1) }), HttpStatusCode.Forbidden);
        await AssertStatus(await Put(owner, $"/api/v1/conversations/{group}/timeouts/{member.UserId}", new { until = DateTimeOffset.UtcNow.AddDays(30) }), HttpStatusCode.BadRequest);

        await AssertStatus(await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/timeouts/{member.UserId}"), HttpStatusCode.NoContent);
        await member.Send(group, "thanks");
        var types = (await member.Get($"/api/v1/conversations/{group}/events")).GetProperty("items").EnumerateArray()
            .Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(2, types.Count(type => type == "member.timed-out"));
    }

    [Fact]
    public async Task SlowMode_RefusesAMembersSecondMessageWith429AndRetryAfter_ButNotTheOwners()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var updated = await owner.Json200(await owner.Patch($"/api/v1/conversations/{group}", new { slowModeSeconds = 60 }));
        Assert.Equal(60, updated.GetProperty("slowModeSeconds").GetInt32());

        await member.Send(group, "first");
        var second = await member.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "second", text = "second" });
        await AssertStatus(second, HttpStatusCode.TooManyRequests);
        Assert.InRange(second.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 50, 60);
        Assert.Equal("Slow mode", (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        // A retry of the first send is its answer again, not a refusal.
        await owner.Send(group, "one");
        await owner.Send(group, "two");

        await owner.Json200(await owner.Patch($"/api/v1/conversations/{group}", new { slowModeSeconds = 0 }));
        await member.Send(group, "second, later");
    }
}
