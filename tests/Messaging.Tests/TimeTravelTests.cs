using System.Net;
using System.Text.Json;

namespace Platform.Messaging.Tests;

/// <summary>Time travel: messages and members as they were at a seq or a time, erased content staying erased.</summary>
public sealed class TimeTravelTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static Dictionary<Guid, JsonElement> ById(JsonElement page) =>
        page.GetProperty("items").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetGuid());

    [Fact]
    public async Task MessagesAndMembersAsOfASeq_ShowEditsReactionsRepliesAndMembersAsTheyWere_AndErasedTextStaysErased()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var first = (await owner.Send(group, "first draft")).GetProperty("id").GetGuid();
        var thumbs = Uri.EscapeDataString("👍");
        Assert.True((await member.Http.PutAsync($"/api/v1/conversations/{group}/messages/{first}/reactions/{thumbs}", null)).IsSuccessStatusCode);
        var later = (await owner.Send(group, "deleted later")).GetProperty("id").GetGuid();
        var early = (await owner.Send(group, "deleted early")).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{early}")).StatusCode);
        var point = (await owner.Get($"/api/v1/conversations/{group}")).GetProperty("lastSeq").GetInt64();

        await owner.Json200(await owner.Patch($"/api/v1/conversations/{group}/messages/{first}", new { text = "final text" }));
        Assert.True((await member.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{first}/reactions/{thumbs}")).IsSuccessStatusCode);
        var carol = host.Client();
        await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/members", new { userIds = new[] { carol.UserId } }));
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{later}")).StatusCode);
        var newer = (await owner.Send(group, "after the point")).GetProperty("id").GetGuid();
        await owner.Send(group, "a reply", replyTo: first);

        var then = ById(await member.Get($"/api/v1/conversations/{group}/messages?asOfSeq={point}"));
        Assert.Equal([first, later, early], then.Keys);
        Assert.Equal(("first draft", false, 0), (then[first].GetProperty("text").GetString(), then[first].GetProperty("edited").GetBoolean(),
            then[first].GetProperty("replyCount").GetInt32()));
        Assert.Equal([member.UserId], then[first].GetProperty("reactions")[0].GetProperty("userIds").EnumerateArray().Select(u => u.GetGuid()));
        // Present then, deleted since: shown, but its text was erased for good.
        Assert.Equal((false, ""), (then[later].GetProperty("deleted").GetBoolean(), then[later].GetProperty("text").GetString()));
        Assert.True(then[early].GetProperty("deleted").GetBoolean());

        var now = ById(await member.Get($"/api/v1/conversations/{group}/messages"));
        Assert.Contains(newer, now.Keys);
        Assert.Equal(("final text", 1), (now[first].GetProperty("text").GetString(), now[first].GetProperty("replyCount").GetInt32()));

        // Paged like the history: the newest page before the point, then backward.
        var page = await member.Get($"/api/v1/conversations/{group}/messages?asOfSeq={point}&limit=2");
        Assert.Equal([later, early], ById(page).Keys);
        var rest = await member.Get($"/api/v1/conversations/{group}/messages?asOfSeq={point}&limit=2&before={page.GetProperty("next").GetString()}");
        Assert.Equal([first], ById(rest).Keys);

        var membersThen = (await member.Get($"/api/v1/conversations/{group}/members?asOfSeq={point}")).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("userId").GetGuid()).Order().ToList();
        Assert.Equal(new[] { owner.UserId, member.UserId }.Order(), membersThen);
        Assert.Equal(3, (await member.Get($"/api/v1/conversations/{group}/members")).GetProperty("items").GetArrayLength());

        // By time: before the conversation, nothing; far ahead, everything as it is now.
        Assert.Empty(ById(await member.Get($"/api/v1/conversations/{group}/messages?asOf=2000-01-01T00:00:00Z")));
        Assert.Empty((await member.Get($"/api/v1/conversations/{group}/members?asOf=2000-01-01T00:00:00Z")).GetProperty("items").EnumerateArray());
        Assert.Equal(now.Keys, ById(await member.Get($"/api/v1/conversations/{group}/messages?asOf=2100-01-01T00:00:00Z")).Keys);
    }

    [Fact]
    public async Task TimeTravel_RefusesBadPointsAndNonMembers()
    {
        var owner = host.Client();
        var group = await owner.CreateGroup(Guid.CreateVersion7());
        await owner.Send(group, "hello");
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Http.GetAsync($"/api/v1/conversations/{group}/messages?asOfSeq=-1")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Http.GetAsync($"/api/v1/conversations/{group}/messages?asOfSeq=1&asOf=2026-01-01T00:00:00Z")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Http.GetAsync($"/api/v1/conversations/{group}/members?asOfSeq=-3")).StatusCode);
        var stranger = host.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.GetAsync($"/api/v1/conversations/{group}/messages?asOfSeq=1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.GetAsync($"/api/v1/conversations/{group}/members?asOfSeq=1")).StatusCode);
    }
}
