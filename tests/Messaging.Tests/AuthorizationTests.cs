using System.Net;
using System.Net.Http.Json;

namespace Platform.Messaging.Tests;

/// <summary>Every endpoint against every relation a caller can have with a conversation.</summary>
public sealed class AuthorizationTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    public enum Caller { Owner, Admin, Member, Removed, NonMember }

    private sealed record Scene(Guid Conversation, Dictionary<Caller, ChatClient> Callers, Guid Member2, Guid OwnerMessage, Guid Member2Message);

    private async Task<Scene> Arrange()
    {
        var callers = Enum.GetValues<Caller>().ToDictionary(c => c, _ => host.Client());
        var owner = callers[Caller.Owner];
        var member2 = host.Client();
        var conversation = await owner.CreateGroup(callers[Caller.Admin].UserId, callers[Caller.Member].UserId, callers[Caller.Removed].UserId, member2.UserId);
        await owner.Json200(await owner.Patch($"/api/v1/conversations/{conversation}/members/{callers[Caller.Admin].UserId}", new { role = "admin" }));
        var ownerMessage = (await owner.Send(conversation, "from the owner")).GetProperty("id").GetGuid();
        var member2Message = (await member2.Send(conversation, "from member 2")).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{conversation}/members/{callers[Caller.Removed].UserId}")).StatusCode);
        return new Scene(conversation, callers, member2.UserId, ownerMessage, member2Message);
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, object? body = null) =>
        new(method, path) { Content = body is null ? null : JsonContent.Create(body) };

    private static readonly Dictionary<string, Func<Scene, HttpRequestMessage>> Endpoints = new()
    {
        ["get conversation"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}"),
        ["update conversation"] = s => Request(HttpMethod.Patch, $"/api/v1/conversations/{s.Conversation}", new { title = "Renamed" }),
        ["list members"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/members"),
        ["add member"] = s => Request(HttpMethod.Post, $"/api/v1/conversations/{s.Conversation}/members", new { userIds = new[] { Guid.CreateVersion7() } }),
        ["change role"] = s => Request(HttpMethod.Patch, $"/api/v1/conversations/{s.Conversation}/members/{s.Member2}", new { role = "admin" }),
        ["remove member"] = s => Request(HttpMethod.Delete, $"/api/v1/conversations/{s.Conversation}/members/{s.Member2}"),
        ["send"] = s => Request(HttpMethod.Post, $"/api/v1/conversations/{s.Conversation}/messages", new { clientMessageId = "x", text = "hi" }),
        ["history"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/messages"),
        ["get message"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}"),
        ["edit owner's message"] = s => Request(HttpMethod.Patch, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}", new { text = "changed" }),
        ["delete member 2's message"] = s => Request(HttpMethod.Delete, $"/api/v1/conversations/{s.Conversation}/messages/{s.Member2Message}"),
        ["add reaction"] = s => Request(HttpMethod.Put, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}/reactions/👍"),
        ["remove reaction"] = s => Request(HttpMethod.Delete, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}/reactions/👍"),
        ["versions of owner's message"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}/versions"),
        ["message receipts"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/messages/{s.OwnerMessage}/receipts"),
        ["log"] = s => Request(HttpMethod.Get, $"/api/v1/conversations/{s.Conversation}/events"),
        ["receipts"] = s => Request(HttpMethod.Post, $"/api/v1/conversations/{s.Conversation}/receipts", new { read = 2 }),
    };

    // Owner, Admin, Member, Removed, NonMember. Former members may read what happened before they left.
    public static TheoryData<string, int, int, int, int, int> Matrix => new()
    {
        { "get conversation", 200, 200, 200, 404, 404 },
        { "update conversation", 200, 200, 403, 404, 404 },
        { "list members", 200, 200, 200, 404, 404 },
        { "add member", 200, 200, 403, 404, 404 },
        { "change role", 200, 403, 403, 404, 404 },
        { "remove member", 204, 204, 403, 404, 404 },
        { "send", 201, 201, 201, 404, 404 },
        { "history", 200, 200, 200, 200, 404 },
        { "get message", 200, 200, 200, 200, 404 },
        { "edit owner's message", 200, 403, 403, 404, 404 },
        { "delete member 2's message", 204, 204, 403, 404, 404 },
        { "add reaction", 200, 200, 200, 404, 404 },
        { "remove reaction", 200, 200, 200, 404, 404 },
        { "versions of owner's message", 200, 200, 403, 404, 404 },
        { "message receipts", 200, 200, 200, 404, 404 },
        { "log", 200, 200, 200, 200, 404 },
        { "receipts", 200, 200, 200, 404, 404 },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Endpoint_AnswersEachCallerByTheirRelationToTheConversation(string endpoint, int owner, int admin, int member, int removed, int nonMember)
    {
        var expected = new Dictionary<Caller, int>
        {
            [Caller.Owner] = owner, [Caller.Admin] = admin, [Caller.Member] = member, [Caller.Removed] = removed, [Caller.NonMember] = nonMember,
        };
        foreach (var (caller, status) in expected)
        {
            var scene = await Arrange();
            var response = await scene.Callers[caller].Http.SendAsync(Endpoints[endpoint](scene));
            Assert.True(status == (int)response.StatusCode,
                $"{endpoint} as {caller}: expected {status}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (status >= 400)
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task RemovedMember_SeesNothingAfterTheEventThatRemovedThem()
    {
        var scene = await Arrange();
        var owner = scene.Callers[Caller.Owner];
        var removed = scene.Callers[Caller.Removed];
        var after = (await owner.Send(scene.Conversation, "after the removal")).GetProperty("id").GetGuid();

        var log = await removed.Get($"/api/v1/conversations/{scene.Conversation}/events");
        var last = log.GetProperty("items").EnumerateArray().Last();
        Assert.Equal("member.left", last.GetProperty("type").GetString());
        Assert.Equal(removed.UserId, last.GetProperty("data").GetProperty("userId").GetGuid());
        var history = await removed.Get($"/api/v1/conversations/{scene.Conversation}/messages");
        Assert.DoesNotContain(history.GetProperty("items").EnumerateArray(), m => m.GetProperty("id").GetGuid() == after);
        Assert.Equal(HttpStatusCode.NotFound, (await removed.Http.GetAsync($"/api/v1/conversations/{scene.Conversation}/messages/{after}")).StatusCode);
        var inbox = await removed.Get("/api/v1/conversations");
        Assert.Empty(inbox.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task WithoutAToken_EveryEndpointAnswers401()
    {
        var scene = await Arrange();
        using var anonymous = host.Factory.CreateClient();
        foreach (var (name, request) in Endpoints)
        {
            var response = await anonymous.SendAsync(request(scene));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task InADirectConversation_TheMembersAreEquals_NeitherDeletesNorReadsTheEarlierVersionsOfTheOthersMessages()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = (await alice.Json200(await alice.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } })))
            .GetProperty("id").GetGuid();
        var message = (await alice.Send(conversation, "first draft")).GetProperty("id").GetGuid();
        await alice.Json200(await alice.Patch($"/api/v1/conversations/{conversation}/messages/{message}", new { text = "final text" }));

        Assert.Equal(HttpStatusCode.Forbidden, (await bob.Http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{message}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await bob.Http.GetAsync($"/api/v1/conversations/{conversation}/messages/{message}/versions")).StatusCode);
        var bobsLog = await bob.Get($"/api/v1/conversations/{conversation}/events");
        Assert.DoesNotContain("first draft", bobsLog.GetRawText(), StringComparison.Ordinal);
        Assert.Contains("first draft", (await alice.Get($"/api/v1/conversations/{conversation}/messages/{message}/versions")).GetRawText(), StringComparison.Ordinal);
        var own = (await bob.Send(conversation, "mine")).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{own}")).StatusCode);
    }
}
