using Microsoft.AspNetCore.Http;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;

namespace Platform.Messaging.Tests;

/// <summary>The conversation rules as pure decisions: given state, when a command, then events or a refusal.</summary>
public sealed class DecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly MessagingOptions Options = new();
    private static readonly Guid Owner = Guid.CreateVersion7(), Admin = Guid.CreateVersion7(), Member = Guid.CreateVersion7(), Outsider = Guid.CreateVersion7();
    private static readonly Guid ConversationId = Guid.CreateVersion7();

    private static ConversationView Group(int members = 3, ConversationKind kind = ConversationKind.Group, bool isPublic = false) =>
        ConversationView.Create(new ConversationCreated(ConversationId, kind, "Team", null, isPublic, null,
            [new InitialMember(Owner, MemberRole.Owner)], Owner, Now)) with
        { MemberCount = members, LastSeq = 10 };

    private static Membership As(Guid user, MemberRole role, bool active = true) =>
        Membership.Joined(ConversationId, user, role, 1, Now) with { Active = active, LeftSeq = active ? null : 5 };

    private static MessageView MessageBy(Guid sender, bool deleted = false) =>
        MessageView.Create(ConversationId, 4, new MessagePosted(Guid.CreateVersion7(), "c1", sender, "hello", [], [], null, [], Now)) with { Deleted = deleted };

    [Fact]
    public void EveryEventAboutAMessage_ButItsPostingAndReports_ChangesTheMessage_SoTheWriteAndTimeTravelApplyIt()
    {
        var aboutAMessage = typeof(MessagePosted).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(MessagePosted).Namespace && t.IsClass && t.GetProperty("MessageId")?.PropertyType == typeof(Guid))
            .Where(t => t.GetMethod("<Clone>$") is not null && t.GetProperty("Id") is null) // records without an id: events, not documents
            .Except([typeof(MessagePosted), typeof(MessageReported)]);

        Assert.All(aboutAMessage, t => Assert.True(typeof(IChangesMessage).IsAssignableFrom(t), $"{t.Name} names a message: mark it IChangesMessage"));
    }

    private static T Single<T>(Decision decision)
    {
        Assert.Null(decision.Error);
        return Assert.IsType<T>(Assert.Single(decision.Events));
    }

    private static void Refused(Decision decision, int status)
    {
        Assert.Empty(decision.Events);
        Assert.Equal(status, decision.Error?.Status);
    }

    // Creating

    [Fact]
    public void CreateDirect_WithOneOtherUser_BothOwnAConversationWhoseIdFollowsFromThePair()
    {
        var (created, error) = CreateConversation.Decide(Owner, new CreateConversationRequest("direct", null, null, [Member], null, null), Options, Now, Guid.NewGuid());

        Assert.Null(error);
        Assert.Equal(ConversationRules.DirectConversationId(Member, Owner), created!.ConversationId);
        Assert.All(created.Members, m => Assert.Equal(MemberRole.Owner, m.Role));
        Assert.Equal([Owner, Member], created.Members.Select(m => m.UserId));
    }

    [Theory]
    [InlineData("direct", null, 2, null)]
    [InlineData("direct", "Title", 1, null)]
    [InlineData("group", null, 1000, null)]
    [InlineData("channel", null, 1, null)]
    [InlineData("group", "Team", 1, true)]
    [InlineData("party", "Team", 1, null)]
    [InlineData("1", "Team", 1, null)]
    public void Create_BreakingAKindsRules_IsRefused(string kind, string? title, int others, bool? isPublic)
    {
        var members = Enumerable.Range(0, others).Select(_ => Guid.CreateVersion7()).ToArray();

        var (created, error) = CreateConversation.Decide(Owner, new CreateConversationRequest(kind, title, null, members, isPublic, null), Options, Now, Guid.NewGuid());

        Assert.Null(created);
        Assert.Equal(StatusCodes.Status400BadRequest, error?.Status);
    }

    [Fact]
    public void CreateChannel_IsPublicByDefault_AndTheCreatorOwnsIt()
    {
        var (created, _) = CreateConversation.Decide(Owner, new CreateConversationRequest("channel", " general ", null, [Member, Member], null, 30), Options, Now, Guid.NewGuid());

        Assert.True(created!.IsPublic);
        Assert.Equal("general", created.Title);
        Assert.Equal(30, created.RetentionDays);
        Assert.Equal([(Owner, MemberRole.Owner), (Member, MemberRole.Member)], created.Members.Select(m => (m.UserId, m.Role)));
    }

    // Members

    [Fact]
    public void AddMembers_ByAnAdmin_JoinsOnlyThoseNotAlreadyIn()
    {
        var newcomer = Guid.CreateVersion7();

        var decision = Members.DecideAdd(Group(), As(Admin, MemberRole.Admin), Admin,
            [(newcomer, null), (Member, As(Member, MemberRole.Member)), (Outsider, As(Outsider, MemberRole.Member, active: false))], MemberRole.Member, Options, Now);

        Assert.Equal([newcomer, Outsider], decision.Events.Cast<MemberJoined>().Select(e => e.UserId));
    }

    [Fact]
    public void AddMembers_ByAPlainMember_IsForbidden() =>
        Refused(Members.DecideAdd(Group(), As(Member, MemberRole.Member), Member, [(Outsider, null)], MemberRole.Member, Options, Now), 403);

    [Fact]
    public void AddAnAdmin_ByAnAdmin_IsForbidden() =>
        Refused(Members.DecideAdd(Group(), As(Admin, MemberRole.Admin), Admin, [(Outsider, null)], MemberRole.Admin, Options, Now), 403);

    [Fact]
    public void AddMembers_ByANonMember_IsNotFound() =>
        Refused(Members.DecideAdd(Group(), null, Outsider, [(Guid.NewGuid(), null)], MemberRole.Member, Options, Now), 404);

    [Fact]
    public void AddMembers_ToADirectConversation_Conflicts() =>
        Refused(Members.DecideAdd(Group(kind: ConversationKind.Direct), As(Owner, MemberRole.Owner), Owner, [(Outsider, null)], MemberRole.Member, Options, Now), 409);

    [Fact]
    public void AddMembers_BeyondTheGroupLimit_Conflicts() =>
        Refused(Members.DecideAdd(Group(members: Options.MaxGroupMembers), As(Owner, MemberRole.Owner), Owner, [(Outsider, null)], MemberRole.Member, Options, Now), 409);

    [Fact]
    public void JoinAPublicChannel_Yourself_IsAllowed() =>
        Assert.Equal(Outsider, Single<MemberJoined>(Members.DecideAdd(Group(kind: ConversationKind.Channel, isPublic: true), null, Outsider, [(Outsider, null)], MemberRole.Member, Options, Now)).UserId);

    [Fact]
    public void JoinAPrivateChannel_Yourself_IsNotFound() =>
        Refused(Members.DecideAdd(Group(kind: ConversationKind.Channel), null, Outsider, [(Outsider, null)], MemberRole.Member, Options, Now), 404);

    [Fact]
    public void Leave_AsAMember_EmitsMemberLeftByThemselves()
    {
        var left = Single<MemberLeft>(Members.DecideRemove(Group(), As(Member, MemberRole.Member), Member, As(Member, MemberRole.Member), 1, Now));

        Assert.Equal((Member, Member), (left.UserId, left.RemovedBy));
    }

    [Fact]
    public void Remove_AnAdminByAnAdmin_IsForbidden() =>
        Refused(Members.DecideRemove(Group(), As(Admin, MemberRole.Admin), Admin, As(Outsider, MemberRole.Admin), 1, Now), 403);

    [Fact]
    public void Remove_AnAdminByTheOwner_IsAllowed() =>
        Assert.Equal(Admin, Single<MemberLeft>(Members.DecideRemove(Group(), As(Owner, MemberRole.Owner), Owner, As(Admin, MemberRole.Admin), 1, Now)).UserId);

    [Fact]
    public void Leave_AsTheOnlyOwnerWithOthersLeft_Conflicts() =>
        Refused(Members.DecideRemove(Group(), As(Owner, MemberRole.Owner), Owner, As(Owner, MemberRole.Owner), 1, Now), 409);

    [Fact]
    public void Remove_SomeoneNotAMember_IsNotFound() =>
        Refused(Members.DecideRemove(Group(), As(Owner, MemberRole.Owner), Owner, As(Outsider, MemberRole.Member, active: false), 1, Now), 404);

    [Fact]
    public void ChangeRole_ByAnAdmin_IsForbidden() =>
        Refused(Members.DecideRoleChange(Group(), As(Admin, MemberRole.Admin), Admin, As(Member, MemberRole.Member), MemberRole.Admin, 1, Now), 403);

    [Fact]
    public void ChangeRole_DemotingTheLastOwner_Conflicts() =>
        Refused(Members.DecideRoleChange(Group(), As(Owner, MemberRole.Owner), Owner, As(Owner, MemberRole.Owner), MemberRole.Member, 1, Now), 409);

    [Fact]
    public void ChangeRole_ToTheSameRole_ChangesNothing() =>
        Assert.Empty(Members.DecideRoleChange(Group(), As(Owner, MemberRole.Owner), Owner, As(Member, MemberRole.Member), MemberRole.Member, 1, Now).Events);

    [Fact]
    public void ChangeRole_ByTheOwner_EmitsMemberRoleChanged() =>
        Assert.Equal(MemberRole.Admin, Single<MemberRoleChanged>(Members.DecideRoleChange(Group(), As(Owner, MemberRole.Owner), Owner, As(Member, MemberRole.Member), MemberRole.Admin, 1, Now)).Role);

    // Messages

    private static SendMessage.Command Command(string text = "hi", Guid? replyTo = null) =>
        new(Guid.CreateVersion7(), "client-1", text, [], replyTo, [], Now);

    [Fact]
    public void Send_ByAMember_PostsWithUrlsFound()
    {
        var posted = Single<MessagePosted>(SendMessage.Decide(Group(), As(Member, MemberRole.Member), Member, null, Command("see https://example.org/x.")));

        Assert.Equal(["https://example.org/x"], posted.Urls);
        Assert.Equal(Member, posted.SenderId);
    }

    [Fact]
    public void Send_AtChannel_NotifiesAllInGroups_InChannelsOnlyFromOwnersAndAdmins_AndNeverInDirect()
    {
        MessagePosted Post(ConversationKind kind, MemberRole role, string text) =>
            Single<MessagePosted>(SendMessage.Decide(Group(kind: kind), As(Member, role), Member, null, Command(text)));

        Assert.Equal("channel", Post(ConversationKind.Group, MemberRole.Member, "@channel lunch").MassMention);
        Assert.Equal("here", Post(ConversationKind.Group, MemberRole.Member, "@here lunch").MassMention);
        Assert.Null(Post(ConversationKind.Channel, MemberRole.Member, "@channel lunch").MassMention);
        Assert.Equal("here", Post(ConversationKind.Channel, MemberRole.Admin, "@here lunch").MassMention);
        Assert.Null(Post(ConversationKind.Direct, MemberRole.Member, "@channel lunch").MassMention);
        Assert.Null(Post(ConversationKind.Group, MemberRole.Member, "lunch").MassMention);
    }

    [Fact]
    public void Send_ByAFormerMember_IsNotFound() =>
        Refused(SendMessage.Decide(Group(), As(Member, MemberRole.Member, active: false), Member, null, Command()), 404);

    [Fact]
    public void Send_AReplyToAnUnknownMessage_IsInvalid() =>
        Refused(SendMessage.Decide(Group(), As(Member, MemberRole.Member), Member, null, Command(replyTo: Guid.NewGuid())), 400);

    [Fact]
    public void Send_AReplyToADeletedMessage_Conflicts()
    {
        var root = MessageBy(Owner, deleted: true);
        Refused(SendMessage.Decide(Group(), As(Member, MemberRole.Member), Member, root, Command(replyTo: root.Id)), 409);
    }

    [Fact]
    public void Send_AReplyToAReply_JoinsTheRootsThread()
    {
        var root = MessageBy(Owner);
        var reply = MessageBy(Member) with { ReplyTo = root.Id };

        Assert.Equal(root.Id, Single<MessagePosted>(SendMessage.Decide(Group(), As(Member, MemberRole.Member), Member, reply, Command(replyTo: reply.Id))).ReplyTo);
    }

    [Theory]
    [InlineData(null, "hi")]
    [InlineData("", "hi")]
    [InlineData("c", "")]
    [InlineData("c", " \u0000 ")]
    public void Send_ValidationRefusesMissingIdsAndEmptyText(string? clientMessageId, string text) =>
        Assert.Equal(400, SendMessage.Validate(new SendMessageRequest(clientMessageId, text, null, null), Options, out _)?.Status);

    [Fact]
    public void Send_ValidationRefusesTextOverTheLimit() =>
        Assert.NotNull(SendMessage.Validate(new SendMessageRequest("c", new string('a', Options.MaxTextLength + 1), null, null), Options, out _));

    [Fact]
    public void Send_ValidationRefusesTooManyAttachments() =>
        Assert.NotNull(SendMessage.Validate(new SendMessageRequest("c", "x", Enumerable.Range(0, 11).Select(_ => Guid.NewGuid()).ToArray(), null), Options, out _));

    [Fact]
    public void Edit_SomeoneElsesMessage_IsForbidden() =>
        Refused(EditMessage.Decide(As(Admin, MemberRole.Admin), Admin, MessageBy(Member), "new", [], Now), 403);

    [Fact]
    public void Edit_ADeletedMessage_Conflicts() =>
        Refused(EditMessage.Decide(As(Member, MemberRole.Member), Member, MessageBy(Member, deleted: true), "new", [], Now), 409);

    [Fact]
    public void Edit_ToTheSameText_ChangesNothing() =>
        Assert.Empty(EditMessage.Decide(As(Member, MemberRole.Member), Member, MessageBy(Member), "hello", [], Now).Events);

    [Fact]
    public void Edit_OwnMessage_EmitsMessageEdited() =>
        Assert.Equal("new", Single<MessageEdited>(EditMessage.Decide(As(Member, MemberRole.Member), Member, MessageBy(Member), "new", [], Now)).Text);

    [Fact]
    public void Delete_SomeoneElsesMessageAsAMember_IsForbidden() =>
        Refused(DeleteMessage.Decide(ConversationKind.Group, As(Member, MemberRole.Member), Member, MessageBy(Owner), Now), 403);

    [Fact]
    public void Delete_AnyMessageAsAnAdmin_EmitsATombstone() =>
        Assert.Equal(DeleteReasons.Deleted, Single<MessageDeleted>(DeleteMessage.Decide(ConversationKind.Group, As(Admin, MemberRole.Admin), Admin, MessageBy(Member), Now)).Reason);

    [Fact]
    public void Delete_TheOtherMembersMessageInADirectConversation_IsForbidden_ThoughBothAreOwners() =>
        Refused(DeleteMessage.Decide(ConversationKind.Direct, As(Owner, MemberRole.Owner), Owner, MessageBy(Member), Now), 403);

    [Fact]
    public void Delete_OnesOwnMessageInADirectConversation_EmitsATombstone() =>
        Assert.Single(DeleteMessage.Decide(ConversationKind.Direct, As(Owner, MemberRole.Owner), Owner, MessageBy(Owner), Now).Events);

    [Fact]
    public void Delete_TwiceChangesNothing() =>
        Assert.Empty(DeleteMessage.Decide(ConversationKind.Group, As(Member, MemberRole.Member), Member, MessageBy(Member, deleted: true), Now).Events);

    [Fact]
    public void Delete_AnUnknownMessage_IsNotFound() =>
        Refused(DeleteMessage.Decide(ConversationKind.Group, As(Member, MemberRole.Member), Member, null, Now), 404);

    [Fact]
    public void React_ToADeletedMessage_Conflicts() =>
        Refused(Reactions.Decide(As(Member, MemberRole.Member), Member, MessageBy(Owner, deleted: true), "👍", add: true, Now), 409);

    [Fact]
    public void React_TwiceWithTheSameEmoji_ChangesNothingTheSecondTime()
    {
        var message = MessageBy(Owner);
        var added = Single<ReactionAdded>(Reactions.Decide(As(Member, MemberRole.Member), Member, message, "👍", add: true, Now));
        var reacted = message.Apply(5, added);

        Assert.Empty(Reactions.Decide(As(Member, MemberRole.Member), Member, reacted, "👍", add: true, Now).Events);
        Assert.IsType<ReactionRemoved>(Assert.Single(Reactions.Decide(As(Member, MemberRole.Member), Member, reacted, "👍", add: false, Now).Events));
    }

    [Fact]
    public void Remove_AReactionNeverAdded_ChangesNothing() =>
        Assert.Empty(Reactions.Decide(As(Member, MemberRole.Member), Member, MessageBy(Owner), "👍", add: false, Now).Events);

    // Moderation

    private static ConversationBan BanOf(Guid user, DateTimeOffset? until = null) =>
        new() { Id = ConversationBan.KeyOf(ConversationId, user), ConversationId = ConversationId, UserId = user, Until = until, BannedBy = Owner, BannedAt = Now };

    [Fact]
    public void Ban_AMember_BansAndRemovesThemInOneWrite()
    {
        var decision = Moderation.DecideBan(Group(), As(Admin, MemberRole.Admin), Admin, Member, As(Member, MemberRole.Member), null, new BanRequest(" spam ", null), Now);

        Assert.Null(decision.Error);
        Assert.Collection(decision.Events,
            e => Assert.Equal(new MemberBanned(Member, "spam", null, Admin, Now), e),
            e => Assert.Equal(new MemberLeft(Member, Admin, Now), e));
    }

    [Fact]
    public void Ban_SomeoneNotAMember_OnlyBansThem() =>
        Assert.Equal(Outsider, Single<MemberBanned>(Moderation.DecideBan(Group(), As(Owner, MemberRole.Owner), Owner, Outsider, null, null, new BanRequest(null, Now.AddDays(1)), Now)).UserId);

    [Theory]
    [InlineData(MemberRole.Admin, MemberRole.Admin, 403)]
    [InlineData(MemberRole.Admin, MemberRole.Owner, 403)]
    [InlineData(MemberRole.Owner, MemberRole.Owner, 403)]
    [InlineData(MemberRole.Member, MemberRole.Member, 403)]
    public void Ban_ByWhoDoesNotOutrankTheTarget_IsForbidden(MemberRole actor, MemberRole target, int status) =>
        Refused(Moderation.DecideBan(Group(), As(Admin, actor), Admin, Member, As(Member, target), null, new BanRequest(null, null), Now), status);

    [Fact]
    public void Ban_InADirectConversation_Conflicts() =>
        Refused(Moderation.DecideBan(Group(kind: ConversationKind.Direct), As(Owner, MemberRole.Owner), Owner, Member, As(Member, MemberRole.Owner), null, new BanRequest(null, null), Now), 409);

    [Fact]
    public void Ban_UntilThePast_OrYourself_IsInvalid()
    {
        Refused(Moderation.DecideBan(Group(), As(Owner, MemberRole.Owner), Owner, Outsider, null, null, new BanRequest(null, Now.AddMinutes(-1)), Now), 400);
        Refused(Moderation.DecideBan(Group(), As(Owner, MemberRole.Owner), Owner, Owner, As(Owner, MemberRole.Owner), null, new BanRequest(null, null), Now), 400);
    }

    [Fact]
    public void Unban_SomeoneNotBanned_ChangesNothing_AndABannedUser_IsUnbanned()
    {
        Assert.Empty(Moderation.DecideUnban(Group(), As(Owner, MemberRole.Owner), Owner, Member, null, Now).Events);
        Assert.Equal(Member, Single<MemberUnbanned>(Moderation.DecideUnban(Group(), As(Owner, MemberRole.Owner), Owner, Member, BanOf(Member), Now)).UserId);
    }

    [Fact]
    public void Add_ABannedUser_IsForbidden_AndSoIsJoiningAPublicChannelWhileBanned()
    {
        Refused(Members.DecideAdd(Group(), As(Owner, MemberRole.Owner), Owner, [(Outsider, null)], MemberRole.Member, Options, Now, [Outsider]), 403);
        Refused(Members.DecideAdd(Group(kind: ConversationKind.Channel, isPublic: true), null, Outsider, [(Outsider, null)], MemberRole.Member, Options, Now, [Outsider]), 403);
    }

    [Fact]
    public void ATimedOutMember_CannotPostOrReact_UntilTheTimeout()
    {
        var muted = As(Member, MemberRole.Member) with { TimedOutUntil = Now.AddMinutes(10) };

        Refused(SendMessage.Decide(Group(), muted, Member, null, Command()), 403);
        Refused(Reactions.Decide(muted, Member, MessageBy(Owner), "👍", add: true, Now), 403);
        Assert.Single(SendMessage.Decide(Group(), muted with { TimedOutUntil = Now.AddSeconds(-1) }, Member, null, Command()).Events);
    }

    [Fact]
    public void Timeout_ForMoreThan28Days_OrOfAnAdminByAnAdmin_IsRefused()
    {
        Refused(Moderation.DecideTimeout(Group(), As(Owner, MemberRole.Owner), Owner, As(Member, MemberRole.Member), Now.AddDays(29), Now), 400);
        Refused(Moderation.DecideTimeout(Group(), As(Admin, MemberRole.Admin), Admin, As(Member, MemberRole.Admin), Now.AddHours(1), Now), 403);
        Assert.Equal(Now.AddHours(1), Single<MemberTimedOut>(Moderation.DecideTimeout(Group(), As(Admin, MemberRole.Admin), Admin, As(Member, MemberRole.Member), Now.AddHours(1), Now)).Until);
    }

    [Fact]
    public void SlowMode_RefusesAMembersSecondMessageWithinTheInterval_WithWhenToComeBack_ButNotAModerators()
    {
        var slow = Group() with { SlowModeSeconds = 30 };
        var posted = As(Member, MemberRole.Member) with { LastPostedAt = Now.AddSeconds(-10) };

        var refused = SendMessage.Decide(slow, posted, Member, null, Command());
        Refused(refused, 429);
        Assert.Equal(TimeSpan.FromSeconds(20), refused.Error!.RetryAfter);
        Assert.Single(SendMessage.Decide(slow, posted with { LastPostedAt = Now.AddSeconds(-30) }, Member, null, Command()).Events);
        Assert.Single(SendMessage.Decide(slow, As(Admin, MemberRole.Admin) with { LastPostedAt = Now }, Admin, null, Command()).Events);
    }

    [Fact]
    public void SlowMode_OutOfRange_OrInADirectConversation_IsInvalid()
    {
        Refused(UpdateConversation.Decide(Group(), As(Owner, MemberRole.Owner), Owner, new UpdateConversationRequest(null, null, null, 6 * 3600 + 1), Options, Now), 400);
        Refused(UpdateConversation.Decide(Group(kind: ConversationKind.Direct), As(Owner, MemberRole.Owner), Owner, new UpdateConversationRequest(null, null, null, 10), Options, Now), 400);
        Assert.Equal(10, Single<ConversationUpdated>(UpdateConversation.Decide(Group(), As(Owner, MemberRole.Owner), Owner, new UpdateConversationRequest(null, null, null, 10), Options, Now)).SlowModeSeconds);
    }

    [Fact]
    public void Pin_BeyondFiftyPins_Conflicts_AndADeletedMessage_CannotBePinned()
    {
        var full = Group() with { PinnedMessageIds = Enumerable.Range(0, Pins.MaxPins).Select(_ => Guid.CreateVersion7()).ToList() };

        Refused(Pins.Decide(full, As(Member, MemberRole.Member), Member, MessageBy(Owner), pin: true, Now), 409);
        Refused(Pins.Decide(Group(), As(Member, MemberRole.Member), Member, MessageBy(Owner, deleted: true), pin: true, Now), 409);
        Assert.IsType<MessagePinned>(Assert.Single(Pins.Decide(Group(), As(Member, MemberRole.Member), Member, MessageBy(Owner), pin: true, Now).Events));
    }

    // Settings and receipts

    [Fact]
    public void Update_ByAMember_IsForbidden() =>
        Refused(UpdateConversation.Decide(Group(), As(Member, MemberRole.Member), Member, new UpdateConversationRequest("New", null, null), Options, Now), 403);

    [Fact]
    public void Update_WithNothingNew_ChangesNothing() =>
        Assert.Empty(UpdateConversation.Decide(Group(), As(Owner, MemberRole.Owner), Owner, new UpdateConversationRequest("Team", null, null), Options, Now).Events);

    [Fact]
    public void Update_RetentionZero_KeepsMessagesForever()
    {
        var group = Group() with { RetentionDays = 7 };

        Assert.Null(Single<ConversationUpdated>(UpdateConversation.Decide(group, As(Admin, MemberRole.Admin), Admin, new UpdateConversationRequest(null, null, 0), Options, Now)).RetentionDays);
    }

    [Fact]
    public void Update_TitleOfADirectConversation_IsInvalid() =>
        Refused(UpdateConversation.Decide(Group(kind: ConversationKind.Direct), As(Owner, MemberRole.Owner), Owner, new UpdateConversationRequest("Hi", null, null), Options, Now), 400);

    [Theory]
    [InlineData(null, null)]
    [InlineData(-1L, null)]
    [InlineData(null, 11L)]
    [InlineData(11L, 3L)]
    public void Receipts_MissingNegativeOrBeyondTheLog_AreInvalid(long? delivered, long? read) =>
        Assert.Equal(400, Receipts.Validate(new ReceiptsRequest(delivered, read), lastSeq: 10)?.Status);

    // Read models

    [Fact]
    public void MessageView_AfterDelete_HoldsNoContent()
    {
        var message = MessageBy(Member).Apply(5, new ReactionAdded(Guid.Empty, "👍", Owner, Now)).Apply(6, new MessageDeleted(Guid.Empty, Member, Now, DeleteReasons.Deleted));

        Assert.Equal(("", true), (message.Text, message.Deleted));
        Assert.Empty(message.Reactions);
    }

    [Fact]
    public void ConversationView_TracksTheLastSeqAndPreview()
    {
        var posted = new MessagePosted(Guid.CreateVersion7(), "c", Member, "hello there", [], [], null, [], Now.AddMinutes(1));

        var view = Group().Apply(11, posted);

        Assert.Equal(11, view.LastSeq);
        Assert.Equal(("hello there", 11L), (view.LastMessage!.Text, view.LastMessage.Seq));
        Assert.Equal(Now.AddMinutes(1), view.LastActivityAt);
    }
}
