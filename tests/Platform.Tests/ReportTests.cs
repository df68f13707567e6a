using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Platform.Tests;

/// <summary>Reporting a message through the Gateway: the log event only moderators can read, and the review queue.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class ReportTests(WholePlatform platform)
{
    [Fact]
    public async Task AReportedMessage_ReachesTheConversationsModeratorsAndPlatformAdmins_AndOnlyTheySeeWhoAndWhy()
    {
        var owner = await platform.SignUpAsync("Olga Owns The Group");
        var spammer = await platform.SignUpAsync("Sam Spams");
        var reporter = await platform.SignUpAsync("Rita Reports");
        var outsider = await platform.SignUpAsync("Otto Outside");
        var group = (await platform.CreateConversationAsync(owner, "group", [spammer, reporter], "reported")).GetProperty("id").GetGuid();
        var spam = await platform.SendAsync(spammer, group, "buy cheap watches");
        var messageId = spam.GetProperty("id").GetGuid();
        var path = $"api/v1/conversations/{group}/messages/{messageId}/reports";

        var report = await platform.ReadAsync(await reporter.Http.PostAsJsonAsync(path, new { reason = "spam" }), HttpStatusCode.Created, "Rita reports", platform.Messaging);
        var reportId = report.GetProperty("id").GetGuid();
        Assert.Equal(("open", messageId), (report.GetProperty("status").GetString(), report.GetProperty("messageId").GetGuid()));
        var again = await platform.ReadAsync(await reporter.Http.PostAsJsonAsync(path, new { reason = "spam!" }), HttpStatusCode.OK, "Rita reports again", platform.Messaging);
        Assert.Equal(reportId, again.GetProperty("id").GetGuid());

        // Bad reports.
        await RefusedAsync(await reporter.Http.PostAsJsonAsync(path, new { reason = "" }), HttpStatusCode.BadRequest, "no reason");
        await RefusedAsync(await spammer.Http.PostAsJsonAsync(path, new { reason = "me" }), HttpStatusCode.BadRequest, "one's own message");
        await RefusedAsync(await outsider.Http.PostAsJsonAsync(path, new { reason = "spam" }), HttpStatusCode.NotFound, "a non-member");
        await RefusedAsync(await reporter.Http.PostAsJsonAsync($"api/v1/conversations/{group}/messages/{Guid.NewGuid()}/reports", new { reason = "spam" }),
            HttpStatusCode.NotFound, "no such message");

        // The log: the owner sees who and why; members only that a report was made.
        var ownersView = await ReportedEventAsync(owner, group);
        Assert.Equal(reporter.Id, ownersView.GetProperty("actorId").GetGuid());
        Assert.Equal("spam", ownersView.GetProperty("data").GetProperty("reason").GetString());
        var membersView = await ReportedEventAsync(spammer, group);
        Assert.Equal(Guid.Empty, membersView.GetProperty("actorId").GetGuid());
        Assert.False(membersView.GetProperty("data").TryGetProperty("reason", out _));
        Assert.False(membersView.GetProperty("data").TryGetProperty("reportedBy", out _));

        // The queue: the owner's has it, a plain member's and an outsider's do not; bad filters are refused.
        Assert.Contains(reportId, await QueueAsync(owner.Http, "open"));
        Assert.Empty(await QueueAsync(spammer.Http, "open"));
        Assert.Empty(await QueueAsync(outsider.Http, null));
        await RefusedAsync(await owner.Http.GetAsync("api/v1/moderation/reports?status=maybe"), HttpStatusCode.BadRequest, "an unknown status");
        await RefusedAsync(await outsider.Http.PostAsJsonAsync($"api/v1/moderation/reports/{reportId}/resolve", new { }), HttpStatusCode.NotFound, "an outsider resolving");

        // A platform admin sees every conversation's reports, a direct one's too, and resolves them.
        var admin = await platform.SignUpAsync("Ada Administers");
        using var adminHttp = await platform.SignInAsAdminAsync(admin);
        var direct = (await platform.CreateConversationAsync(spammer, "direct", [reporter])).GetProperty("id").GetGuid();
        var directSpam = await platform.SendAsync(spammer, direct, "psst, watches");
        var directReport = (await platform.ReadAsync(await reporter.Http.PostAsJsonAsync(
            $"api/v1/conversations/{direct}/messages/{directSpam.GetProperty("id").GetGuid()}/reports", new { reason = "unwanted" }),
            HttpStatusCode.Created, "Rita reports a DM", platform.Messaging)).GetProperty("id").GetGuid();
        var adminQueue = await QueueAsync(adminHttp, "open");
        Assert.Contains(reportId, adminQueue);
        Assert.Contains(directReport, adminQueue);
        Assert.DoesNotContain(directReport, await QueueAsync(owner.Http, "open"));

        var resolved = await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/moderation/reports/{reportId}/resolve", new { resolution = "banned" }),
            HttpStatusCode.OK, "Olga resolves", platform.Messaging);
        Assert.Equal(("resolved", owner.Id), (resolved.GetProperty("status").GetString(), resolved.GetProperty("resolvedBy").GetGuid()));
        Assert.DoesNotContain(reportId, await QueueAsync(owner.Http, "open"));
        Assert.Contains(reportId, await QueueAsync(adminHttp, "resolved"));
    }

    private async Task<JsonElement> ReportedEventAsync(User reader, Guid conversationId)
    {
        var log = await platform.ReadAsync(await reader.Http.GetAsync($"api/v1/conversations/{conversationId}/events"), HttpStatusCode.OK, "the log", platform.Messaging);
        return log.GetProperty("items").EnumerateArray().Single(e => e.GetProperty("type").GetString() == "message.reported");
    }

    private async Task<List<Guid>> QueueAsync(HttpClient http, string? status)
    {
        var page = await platform.ReadAsync(await http.GetAsync($"api/v1/moderation/reports?limit=1000{(status is null ? "" : "&status=" + status)}"),
            HttpStatusCode.OK, "the review queue", platform.Messaging);
        return page.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetGuid()).ToList();
    }

    private static async Task RefusedAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} instead of {(int)expected}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}
