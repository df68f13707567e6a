using System.Net;

namespace Platform.Messaging.Tests;

/// <summary>
/// Who may bring whom into a conversation, as Identity answers it (here its stand-in in <see cref="Platform.Testing.TestTokenIssuer"/>):
/// ids that are not users, blocks either way, and oversized member lists.
/// </summary>
public sealed class ConsentTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode} instead of {(int)expected}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task CreatingOrAdding_WithIdsThatAreNotUsers_Returns400_AndCreatesNothing()
    {
        var owner = host.Client();
        var real = host.Client();
        var ghost = Guid.CreateVersion7();
        host.Issuer.Relations.NoSuchUser(ghost);

        await AssertProblem(await owner.Post("/api/v1/conversations", new { kind = "group", title = "g", memberIds = new[] { real.UserId, ghost } }), HttpStatusCode.BadRequest);
        await AssertProblem(await owner.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { ghost } }), HttpStatusCode.BadRequest);
        var inbox = await owner.Get("/api/v1/conversations");
        Assert.Empty(inbox.GetProperty("items").EnumerateArray());

        var group = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "group", title = "g", memberIds = new[] { real.UserId } })))
            .GetProperty("id").GetGuid();
        await AssertProblem(await owner.Post($"/api/v1/conversations/{group}/members", new { userIds = new[] { ghost } }), HttpStatusCode.BadRequest);
        // A non-member learns nothing about the ids, only that there is no such conversation for them.
        await AssertProblem(await host.Client().Post($"/api/v1/conversations/{group}/members", new { userIds = new[] { ghost } }), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task OversizedMemberLists_Return400()
    {
        var owner = host.Client();
        var many = Enumerable.Range(0, 1001).Select(_ => Guid.CreateVersion7()).ToArray();
        await AssertProblem(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "huge", memberIds = many }), HttpStatusCode.BadRequest);
        var group = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "c", memberIds = Array.Empty<Guid>() })))
            .GetProperty("id").GetGuid();
        await AssertProblem(await owner.Post($"/api/v1/conversations/{group}/members", new { userIds = many }), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ABlock_EitherWay_RefusesDirectConversationsAddsAndCalls()
    {
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var direct = (await alice.Json200(await alice.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } })))
            .GetProperty("id").GetGuid();
        var group = (await alice.Json200(await alice.Post("/api/v1/conversations", new { kind = "group", title = "g", memberIds = new[] { carol.UserId } })))
            .GetProperty("id").GetGuid();
        host.Issuer.Relations.Block(bob.UserId, alice.UserId);

        await AssertProblem(await alice.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } }), HttpStatusCode.Forbidden);
        await AssertProblem(await bob.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.UserId } }), HttpStatusCode.Forbidden);
        await AssertProblem(await alice.Post($"/api/v1/conversations/{group}/members", new { userIds = new[] { bob.UserId } }), HttpStatusCode.Forbidden);
        await AssertProblem(await alice.Post($"/api/v1/conversations/{direct}/calls", new { kind = "video" }), HttpStatusCode.Forbidden);
        // Carol has no quarrel with Bob.
        await carol.Json200(await carol.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } }));
    }

    [Fact]
    public async Task AUserWhoLetsOnlyContactsAdd_IsAddedOnlyByContacts()
    {
        var stranger = host.Client();
        var friend = host.Client();
        var picky = host.Client();
        host.Issuer.Relations.OnlyContactsAdd(picky.UserId);
        host.Issuer.Relations.Stranger(picky.UserId, stranger.UserId);

        await AssertProblem(await stranger.Post("/api/v1/conversations", new { kind = "group", title = "g", memberIds = new[] { picky.UserId } }), HttpStatusCode.Forbidden);
        var group = (await stranger.Json200(await stranger.Post("/api/v1/conversations", new { kind = "group", title = "g", memberIds = new[] { friend.UserId } })))
            .GetProperty("id").GetGuid();
        await AssertProblem(await stranger.Post($"/api/v1/conversations/{group}/members", new { userIds = new[] { picky.UserId } }), HttpStatusCode.Forbidden);
        await friend.Json200(await friend.Post("/api/v1/conversations", new { kind = "group", title = "friends", memberIds = new[] { picky.UserId } }));
    }
}
