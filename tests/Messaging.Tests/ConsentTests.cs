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

/// <summary>The pure decisions of message requests, leaving and reports.</summary>
public sealed class ConsentDecisionTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-06T01:00:00Z");
    private static readonly Guid Conversation = Guid.CreateVersion7();
    private static readonly Guid Me = Guid.CreateVersion7();

    private static Platform.Messaging.Domain.Membership Member(bool requested = false, bool active = true,
        Platform.Messaging.Domain.MemberRole role = Platform.Messaging.Domain.MemberRole.Member) =>
        Platform.Messaging.Domain.Membership.Joined(Conversation, Me, role, 1, Now) with { Requested = requested, Active = active };

    [Fact]
    public void Accept_OnlyMovesARequest_AndTellsANonMemberNothing()
    {
        Assert.IsType<Platform.Messaging.Domain.RequestAccepted>(Assert.Single(Platform.Messaging.Features.Requests.DecideAccept(Member(requested: true), Me, Now).Events));
        Assert.Empty(Platform.Messaging.Features.Requests.DecideAccept(Member(), Me, Now).Events);
        Assert.Equal(404, Platform.Messaging.Features.Requests.DecideAccept(null, Me, Now).Error?.Status);
    }

    [Fact]
    public void Replying_ToAMessageRequest_AcceptsIt_BeforeTheReply()
    {
        var conversation = new Platform.Messaging.Domain.ConversationView { Id = Conversation, Kind = Platform.Messaging.Domain.ConversationKind.Direct, MemberCount = 2 };
        var command = new Platform.Messaging.Features.SendMessage.Command(Guid.CreateVersion7(), "reply", "hi", [], null, [], Now, null);

        var events = Platform.Messaging.Features.SendMessage.Decide(conversation, Member(requested: true), Me, null, command).Events;
        Assert.Collection(events,
            e => Assert.Equal(Me, Assert.IsType<Platform.Messaging.Domain.RequestAccepted>(e).UserId),
            e => Assert.IsType<Platform.Messaging.Domain.MessagePosted>(e));
        Assert.IsType<Platform.Messaging.Domain.MessagePosted>(Assert.Single(
            Platform.Messaging.Features.SendMessage.Decide(conversation, Member(), Me, null, command).Events));
    }

    [Fact]
    public void Decline_LeavesARequest_AndRefusesWhatIsNoRequest()
    {
        var left = Assert.IsType<Platform.Messaging.Domain.MemberLeft>(Assert.Single(Platform.Messaging.Features.Requests.DecideDecline(Member(requested: true), Me, Now).Events));
        Assert.Equal((Me, Me), (left.UserId, left.RemovedBy));
        Assert.Equal(409, Platform.Messaging.Features.Requests.DecideDecline(Member(), Me, Now).Error?.Status);
        Assert.Equal(404, Platform.Messaging.Features.Requests.DecideDecline(Member(active: false), Me, Now).Error?.Status);
    }

    [Fact]
    public void Leave_WorksInADirectConversation_AndKeepsAGroupsLastOwner()
    {
        var direct = new Platform.Messaging.Domain.ConversationView { Id = Conversation, Kind = Platform.Messaging.Domain.ConversationKind.Direct, MemberCount = 2 };
        Assert.Single(Platform.Messaging.Features.Requests.DecideLeave(direct, Member(role: Platform.Messaging.Domain.MemberRole.Owner), Me, 2, Now).Events);
        var group = direct with { Kind = Platform.Messaging.Domain.ConversationKind.Group, MemberCount = 3 };
        Assert.Equal(409, Platform.Messaging.Features.Requests.DecideLeave(group, Member(role: Platform.Messaging.Domain.MemberRole.Owner), Me, 1, Now).Error?.Status);
        Assert.Single(Platform.Messaging.Features.Requests.DecideLeave(group, Member(), Me, 1, Now).Events);
    }

    [Fact]
    public void Report_NeedsAMemberAnotherOnesLiveMessageAndAReason()
    {
        var other = Guid.CreateVersion7();
        var message = new Platform.Messaging.Domain.MessageView { Id = Guid.CreateVersion7(), ConversationId = Conversation, SenderId = other, Seq = 2 };
        var reported = Assert.IsType<Platform.Messaging.Domain.MessageReported>(Assert.Single(
            Platform.Messaging.Features.Reports.DecideReport(Member(), Me, message, Conversation, "  spam ", Guid.CreateVersion7(), Now).Events));
        Assert.Equal("spam", reported.Reason);
        Assert.Equal(400, Platform.Messaging.Features.Reports.DecideReport(Member(), Me, message, Conversation, " ", Guid.CreateVersion7(), Now).Error?.Status);
        Assert.Equal(400, Platform.Messaging.Features.Reports.DecideReport(Member(), Me, message, Conversation, new string('x', 501), Guid.CreateVersion7(), Now).Error?.Status);
        Assert.Equal(400, Platform.Messaging.Features.Reports.DecideReport(Member(), Me, message with { SenderId = Me }, Conversation, "me", Guid.CreateVersion7(), Now).Error?.Status);
        Assert.Equal(404, Platform.Messaging.Features.Reports.DecideReport(Member(), Me, message with { Deleted = true }, Conversation, "spam", Guid.CreateVersion7(), Now).Error?.Status);
        Assert.Equal(404, Platform.Messaging.Features.Reports.DecideReport(null, Me, message, Conversation, "spam", Guid.CreateVersion7(), Now).Error?.Status);
    }
}
