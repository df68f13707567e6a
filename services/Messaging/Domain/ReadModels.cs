namespace Platform.Messaging.Domain;

// Read models, kept in the same transaction as the append by the pure Apply functions below.
// (Marten's inline projections cannot see an event's stream version in Quick append mode, and the
// version is the conversation's seq, which every read model needs.)

public sealed record MessagePreview(Guid Id, long Seq, Guid SenderId, string Text, bool Deleted, DateTimeOffset CreatedAt);

public sealed record ConversationView
{
    public Guid Id { get; init; }
    public ConversationKind Kind { get; init; }
    public string? Title { get; init; }
    public string? Topic { get; init; }
    public bool IsPublic { get; init; }
    public int? RetentionDays { get; init; }
    public Guid CreatedBy { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public long LastSeq { get; init; }
    public int MemberCount { get; init; }
    public DateTimeOffset LastActivityAt { get; init; }
    public MessagePreview? LastMessage { get; init; }
    /// <summary>The call ringing or going on in this conversation, if any (at most one at a time).</summary>
    public Guid? ActiveCallId { get; init; }
    /// <summary>Slow mode: the least time between two messages of one member (moderators excepted); 0 is off.</summary>
    public int SlowModeSeconds { get; init; }
    /// <summary>The pinned messages, the most recently pinned first.</summary>
    public IReadOnlyList<Guid> PinnedMessageIds { get; init; } = [];

    public static ConversationView Create(ConversationCreated e) => new()
    {
        Id = e.ConversationId,
        Kind = e.Kind,
        Title = e.Title,
        Topic = e.Topic,
        IsPublic = e.IsPublic,
        RetentionDays = e.RetentionDays,
        CreatedBy = e.CreatedBy,
        CreatedAt = e.CreatedAt,
        LastSeq = 1,
        MemberCount = e.Members.Count,
        LastActivityAt = e.CreatedAt,
    };

    public ConversationView Apply(long seq, object e) => (e switch
    {
        ConversationUpdated u => this with { Title = u.Title, Topic = u.Topic, RetentionDays = u.RetentionDays, SlowModeSeconds = u.SlowModeSeconds ?? 0 },
        MemberJoined => this with { MemberCount = MemberCount + 1 },
        MemberLeft => this with { MemberCount = MemberCount - 1 },
        MessagePosted p => this with
        {
            LastActivityAt = p.PostedAt,
            LastMessage = new MessagePreview(p.MessageId, seq, p.SenderId, Preview(p.Text), false, p.PostedAt),
        },
        MessageEdited edit when LastMessage?.Id == edit.MessageId => this with { LastMessage = LastMessage with { Text = Preview(edit.Text) } },
        MessageDeleted d when LastMessage?.Id == d.MessageId => this with
        {
            LastMessage = LastMessage with { Text = "", Deleted = true },
            PinnedMessageIds = PinnedMessageIds.Where(id => id != d.MessageId).ToList(),
        },
        MessageDeleted d => this with { PinnedMessageIds = PinnedMessageIds.Where(id => id != d.MessageId).ToList() },
        MessagePinned p => this with { PinnedMessageIds = [p.MessageId, .. PinnedMessageIds.Where(id => id != p.MessageId)] },
        MessageUnpinned u => this with { PinnedMessageIds = PinnedMessageIds.Where(id => id != u.MessageId).ToList() },
        CallStarted c => this with { ActiveCallId = c.CallId, LastActivityAt = c.StartedAt },
        CallEnded c when ActiveCallId == c.CallId => this with { ActiveCallId = null },
        _ => this,
    }) with
    { LastSeq = seq };

    private static string Preview(string text) => text.Length <= 200 ? text : text[..200];
}

/// <summary>One user's membership of one conversation, with their receipt cursors.</summary>
public sealed record Membership
{
    public string Id { get; init; } = "";
    public Guid ConversationId { get; init; }
    public Guid UserId { get; init; }
    public MemberRole Role { get; init; }
    public bool Active { get; init; }
    public long JoinedSeq { get; init; }
    public long? LeftSeq { get; init; }
    public long DeliveredSeq { get; init; }
    public long ReadSeq { get; init; }
    public DateTimeOffset JoinedAt { get; init; }
    /// <summary>A moderator's timeout: no posting or reacting before this time.</summary>
    public DateTimeOffset? TimedOutUntil { get; init; }
    /// <summary>When the member last posted, for slow mode.</summary>
    public DateTimeOffset? LastPostedAt { get; init; }
    /// <summary>A message request not yet accepted: others see none of this member's receipts meanwhile.</summary>
    public bool Requested { get; init; }

    public static string KeyOf(Guid conversationId, Guid userId) => $"{conversationId:N}:{userId:N}";

    public static Membership Joined(Guid conversationId, Guid userId, MemberRole role, long seq, DateTimeOffset at) => new()
    {
        Id = KeyOf(conversationId, userId),
        ConversationId = conversationId,
        UserId = userId,
        Role = role,
        Active = true,
        JoinedSeq = seq,
        // A member has nothing to read from before they joined.
        DeliveredSeq = seq,
        ReadSeq = seq,
        JoinedAt = at,
    };

    public bool IsAdmin => Active && Role is MemberRole.Admin or MemberRole.Owner;

    /// <summary>
    /// May act on other members' messages (delete them, read their earlier versions): owners and admins, except in a
    /// direct conversation, whose two members are equals whatever their stored role.
    /// </summary>
    public bool Moderates(ConversationKind kind) => IsAdmin && kind != ConversationKind.Direct;

    /// <summary>The last seq this user may see: everything while a member, nothing after leaving.</summary>
    public long VisibleUpTo(long lastSeq) => Active ? lastSeq : LeftSeq ?? 0;
}

/// <summary>A user banned from a conversation (member or not): they cannot join or be added while it lasts.</summary>
public sealed record ConversationBan
{
    public string Id { get; init; } = "";
    public Guid ConversationId { get; init; }
    public Guid UserId { get; init; }
    public string? Reason { get; init; }
    public DateTimeOffset? Until { get; init; }
    public Guid BannedBy { get; init; }
    public DateTimeOffset BannedAt { get; init; }

    public static string KeyOf(Guid conversationId, Guid userId) => $"{conversationId:N}:{userId:N}";

    public bool InForce(DateTimeOffset now) => Until is null || Until > now;
}

/// <summary>A report of a message, in the review queue of the conversation's moderators and the platform admins.</summary>
public sealed record MessageReport
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public Guid MessageId { get; init; }
    public long MessageSeq { get; init; }
    public Guid ReportedBy { get; init; }
    public string Reason { get; init; } = "";
    /// <summary><c>open</c> or <c>resolved</c>.</summary>
    public string Status { get; init; } = MessageReport.Open;
    public DateTimeOffset ReportedAt { get; init; }
    public long Seq { get; init; }
    public Guid? ResolvedBy { get; init; }
    public DateTimeOffset? ResolvedAt { get; init; }
    public string? Resolution { get; init; }

    public const string Open = "open";
    public const string Resolved = "resolved";
}

/// <summary>A message a user saved for later (private to them).</summary>
public sealed record SavedMessage
{
    public string Id { get; init; } = "";
    public Guid UserId { get; init; }
    public Guid MessageId { get; init; }
    public Guid ConversationId { get; init; }
    public DateTimeOffset SavedAt { get; init; }

    public static string KeyOf(Guid userId, Guid messageId) => $"{userId:N}:{messageId:N}";
}

/// <summary>
/// One user's relation to one thread (a root message and its replies): whether they follow it, and how far they have
/// read it. Kept in the same transaction as the replies, so unread counts never miss one.
/// </summary>
public sealed record ThreadFollow
{
    public string Id { get; init; } = "";
    public Guid UserId { get; init; }
    public Guid ConversationId { get; init; }
    public Guid RootId { get; init; }
    public bool Following { get; init; }
    /// <summary>Replies up to this seq are read.</summary>
    public long ReadSeq { get; init; }
    /// <summary>Set when the user unfollowed: being the root's author no longer follows them again (replying does).</summary>
    public DateTimeOffset? UnfollowedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    public static string KeyOf(Guid userId, Guid rootId) => $"{userId:N}:{rootId:N}";

    public static ThreadFollow For(Guid userId, MessageView root, long readSeq, DateTimeOffset at) => new()
    {
        Id = KeyOf(userId, root.Id), UserId = userId, ConversationId = root.ConversationId, RootId = root.Id, ReadSeq = readSeq, UpdatedAt = at,
    };
}

/// <summary>An invite link to a conversation; <see cref="Id"/> is the SHA-256 of its token (the token itself is not stored).</summary>
public sealed record InviteLink
{
    public string Id { get; init; } = "";
    public Guid ConversationId { get; init; }
    public Guid CreatedBy { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
    /// <summary>Joins it allows; null: any number until it expires.</summary>
    public int? MaxUses { get; init; }
    /// <summary>Joins made with it, counted in the join's transaction under the conversation's lock.</summary>
    public int Uses { get; init; }

    public bool UsedUp => MaxUses is { } max && Uses >= max;
}

public sealed record ReactionView(string Emoji, IReadOnlyList<Guid> UserIds);

public sealed record LinkPreviewView(string Url, string? Title, string? Description, string? ImageUrl, string? SiteName);

public sealed record MessageView
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public long Seq { get; init; }
    public Guid SenderId { get; init; }
    public string ClientMessageId { get; init; } = "";
    public string Text { get; init; } = "";
    public IReadOnlyList<Guid> Mentions { get; init; } = [];
    public IReadOnlyList<string> Urls { get; init; } = [];
    public Guid? ReplyTo { get; init; }
    public int ReplyCount { get; init; }
    public DateTimeOffset? LastReplyAt { get; init; }
    public bool Edited { get; init; }
    public DateTimeOffset? EditedAt { get; init; }
    /// <summary>Seqs of the events that hold this message's text (posted and every edit), for erasure.</summary>
    public IReadOnlyList<long> TextSeqs { get; init; } = [];
    public bool Deleted { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }
    public IReadOnlyList<ReactionView> Reactions { get; init; } = [];
    public IReadOnlyList<Guid> Attachments { get; init; } = [];
    /// <summary>The attachments Media has processed, in the order they became ready.</summary>
    public IReadOnlyList<AttachmentDetails> AttachmentDetails { get; init; } = [];
    /// <summary>Seqs of the <see cref="MessageAttachmentsReady"/> events, erased with the text when the message is deleted.</summary>
    public IReadOnlyList<long> AttachmentSeqs { get; init; } = [];
    public IReadOnlyList<LinkPreviewView> LinkPreviews { get; init; } = [];
    /// <summary>Seqs of the <see cref="LinkPreviewAttached"/> events, erased with the text when the message is deleted.</summary>
    public IReadOnlyList<long> PreviewSeqs { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    public bool Pinned { get; init; }
    public ForwardReference? ForwardedFrom { get; init; }
    /// <summary>Posted by a bot or an incoming webhook; null for a person's message.</summary>
    public BotAuthor? Bot { get; init; }
    /// <summary><c>channel</c> or <c>here</c> when the message notified everyone (or everyone online); see SendMessage.</summary>
    public string? MassMention { get; init; }

    public static MessageView Create(Guid conversationId, long seq, MessagePosted e) => new()
    {
        Id = e.MessageId,
        ConversationId = conversationId,
        Seq = seq,
        SenderId = e.SenderId,
        ClientMessageId = e.ClientMessageId,
        Text = e.Text,
        Mentions = e.Mentions,
        Urls = e.Urls,
        ReplyTo = e.ReplyTo,
        TextSeqs = [seq],
        Attachments = e.Attachments,
        CreatedAt = e.PostedAt,
        ForwardedFrom = e.ForwardedFrom,
        Bot = e.Bot,
        MassMention = e.MassMention,
    };

    public MessageView Apply(long seq, object e) => e switch
    {
        MessageEdited edit => this with
        {
            Text = edit.Text,
            Mentions = edit.Mentions,
            Urls = edit.Urls,
            Edited = true,
            EditedAt = edit.EditedAt,
            TextSeqs = [.. TextSeqs, seq],
        },
        MessageDeleted d => this with
        {
            Text = "",
            Mentions = [],
            Urls = [],
            Reactions = [],
            Attachments = [],
            AttachmentDetails = [],
            LinkPreviews = [],
            Deleted = true,
            DeletedAt = d.DeletedAt,
            MassMention = null,
            Pinned = false,
        },
        MessagePinned => this with { Pinned = true },
        MessageUnpinned => this with { Pinned = false },
        LinkPreviewAttached p => this with
        {
            LinkPreviews = [.. LinkPreviews, new LinkPreviewView(p.Url, p.Title, p.Description, p.ImageUrl, p.SiteName)],
            PreviewSeqs = [.. PreviewSeqs, seq],
        },
        MessageAttachmentsReady ready => this with
        {
            AttachmentDetails = [.. AttachmentDetails, .. ready.Attachments.Where(a => Attachments.Contains(a.Id) && AttachmentDetails.All(d => d.Id != a.Id))],
            AttachmentSeqs = [.. AttachmentSeqs, seq],
        },
        ReactionAdded r => this with { Reactions = WithReaction(r.Emoji, r.UserId, add: true) },
        ReactionRemoved r => this with { Reactions = WithReaction(r.Emoji, r.UserId, add: false) },
        MessagePosted reply when reply.ReplyTo == Id => this with { ReplyCount = ReplyCount + 1, LastReplyAt = reply.PostedAt },
        _ => this,
    };

    public bool HasReaction(string emoji, Guid userId) => Reactions.Any(r => r.Emoji == emoji && r.UserIds.Contains(userId));

    private List<ReactionView> WithReaction(string emoji, Guid userId, bool add)
    {
        var reactions = Reactions.ToList();
        var index = reactions.FindIndex(r => r.Emoji == emoji);
        var users = index >= 0 ? reactions[index].UserIds.Where(u => u != userId).ToList() : [];
        if (add)
            users.Add(userId);
        if (index >= 0)
            reactions.RemoveAt(index);
        if (users.Count > 0)
            reactions.Insert(index >= 0 ? index : reactions.Count, new ReactionView(emoji, users));
        return reactions;
    }
}

/// <summary>Remembers which message a sender's <c>clientMessageId</c> produced, so a retry returns it.</summary>
public sealed record ClientMessageKey
{
    public string Id { get; init; } = "";
    public Guid MessageId { get; init; }

    public static string KeyOf(Guid conversationId, Guid senderId, string clientMessageId) => $"{conversationId:N}:{senderId:N}:{clientMessageId}";
}

/// <summary>What Messaging knows of a user (from Identity's events), to resolve @mentions.</summary>
public sealed record UserDirectoryEntry
{
    public Guid Id { get; init; }
    public string Username { get; init; } = "";
    public string DisplayName { get; init; } = "";
    /// <summary>A bot user (Identity's <c>POST /api/v1/bots</c>).</summary>
    public bool IsBot { get; init; }
    /// <summary>The account was deleted: a tombstone that a late registration or profile event does not bring back.</summary>
    public bool Deleted { get; init; }
}

/// <summary>
/// A block between two users (from Identity's <c>BlocksChanged</c>), kept only to refuse sends in a direct conversation
/// they already share; opening, adding and ringing ask Identity itself.
/// </summary>
public sealed record UserBlock
{
    public string Id { get; init; } = "";
    public Guid OwnerId { get; init; }
    public Guid BlockedUserId { get; init; }
    public bool Active { get; init; }
    public DateTimeOffset ChangedAt { get; init; }

    public static string KeyOf(Guid ownerId, Guid blockedUserId) => $"{ownerId:N}:{blockedUserId:N}";
}

/// <summary>A user's privacy setting that Messaging applies (from Identity's <c>PrivacyChanged</c>); no document: receipts on.</summary>
public sealed record UserPrivacy
{
    public Guid Id { get; init; }
    /// <summary>False: the user's read positions are shown only to the user.</summary>
    public bool ReadReceipts { get; init; } = true;
    public DateTimeOffset ChangedAt { get; init; }
}

public enum CallState { Ringing, Active, Ended }

/// <summary>
/// A call's current state, kept in the same transaction as the conversation's writes. Joins, leaves and declines
/// change only this document; the log records the start and the end.
/// </summary>
public sealed record CallView
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public CallKind Kind { get; init; }
    public CallState State { get; init; }
    public Guid StartedBy { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset RingsUntil { get; init; }
    public DateTimeOffset? AnsweredAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public CallEndReason? EndReason { get; init; }
    public long DurationSeconds { get; init; }
    /// <summary>The members asked to join: the conversation's active members when the call started, the caller aside.</summary>
    public IReadOnlyList<Guid> Invited { get; init; } = [];
    /// <summary>Who is in the call now.</summary>
    public IReadOnlyList<Guid> Joined { get; init; } = [];
    /// <summary>Everyone who was ever in the call, in the order they first joined.</summary>
    public IReadOnlyList<Guid> Participants { get; init; } = [];
    public IReadOnlyList<Guid> Declined { get; init; } = [];
    public long StartedSeq { get; init; }
    public long? EndedSeq { get; init; }

    public static CallView Create(Guid conversationId, long seq, CallStarted e, IReadOnlyList<Guid> invited) => new()
    {
        Id = e.CallId,
        ConversationId = conversationId,
        Kind = e.Kind,
        State = CallState.Ringing,
        StartedBy = e.StartedBy,
        StartedAt = e.StartedAt,
        RingsUntil = e.RingsUntil,
        Invited = invited,
        Joined = [e.StartedBy],
        Participants = [e.StartedBy],
        StartedSeq = seq,
    };

    public CallView Apply(long seq, CallEnded e) => this with
    {
        State = CallState.Ended,
        EndedAt = e.EndedAt,
        EndReason = e.Reason,
        DurationSeconds = e.DurationSeconds,
        Joined = [],
        EndedSeq = seq,
    };

    public bool Ended => State == CallState.Ended;

    /// <summary>Invited and not yet answered: not in the call, never was, did not decline, and the call goes on.</summary>
    public bool IsRinging(Guid userId) =>
        !Ended && Invited.Contains(userId) && !Joined.Contains(userId) && !Declined.Contains(userId) && !Participants.Contains(userId);
}

public enum ScheduledState { Pending, Sent, Failed }

/// <summary>
/// A message its author scheduled. <see cref="DueAt"/> is <see cref="SendAt"/> while pending (null once sent or failed):
/// the sender's claim query reads only that indexed column. A sent one keeps no text (the message holds it).
/// </summary>
public sealed record ScheduledMessage
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public Guid SenderId { get; init; }
    public string ClientMessageId { get; init; } = "";
    public string Text { get; init; } = "";
    public IReadOnlyList<Guid> Attachments { get; init; } = [];
    public DateTimeOffset SendAt { get; init; }
    public DateTimeOffset? DueAt { get; init; }
    public ScheduledState State { get; init; }
    public Guid? MessageId { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}
