namespace Platform.Messaging.Domain;

// The conversation log's events, stored in one Marten stream per conversation. A stored event's shape
// never changes: add a new event type (or an upcaster) instead.

public enum ConversationKind { Direct, Group, Channel }

/// <summary>
/// An event that changes one message's view (<see cref="MessageView.Apply"/>): the write path and time travel load that
/// message by <see cref="MessageId"/> and apply the event, so a new event of this kind needs no line of its own there.
/// </summary>
public interface IChangesMessage
{
    Guid MessageId { get; }
}

public enum MemberRole { Member, Admin, Owner }

/// <param name="Requested">
/// A direct conversation opened by someone not in this member's contacts: a message request the member accepts
/// (<see cref="RequestAccepted"/>) or declines (leaving). Came later: events stored before it have none (false).
/// </param>
public record InitialMember(Guid UserId, MemberRole Role, bool Requested = false);

/// <summary>The member accepted the message request: the conversation is theirs like any other from now on.</summary>
public record RequestAccepted(Guid UserId, DateTimeOffset AcceptedAt);

public record ConversationCreated(
    Guid ConversationId,
    ConversationKind Kind,
    string? Title,
    string? Topic,
    bool IsPublic,
    int? RetentionDays,
    IReadOnlyList<InitialMember> Members,
    Guid CreatedBy,
    DateTimeOffset CreatedAt);

/// <summary>
/// The conversation's settings after the change (all of them, not only what changed). <see cref="SlowModeSeconds"/>
/// came later: events stored before it have none, which is what it means (off).
/// </summary>
public record ConversationUpdated(string? Title, string? Topic, int? RetentionDays, Guid UpdatedBy, DateTimeOffset UpdatedAt, int? SlowModeSeconds = null);

public record MemberJoined(Guid UserId, MemberRole Role, Guid AddedBy, DateTimeOffset JoinedAt);

/// <summary>A member left (<see cref="RemovedBy"/> is the member) or was removed.</summary>
public record MemberLeft(Guid UserId, Guid RemovedBy, DateTimeOffset LeftAt);

public record MemberRoleChanged(Guid UserId, MemberRole Role, Guid ChangedBy, DateTimeOffset ChangedAt);

/// <summary>
/// A moderator banned a user: they cannot join or be added again until unbanned or until <see cref="Until"/>. A member
/// who is banned also leaves: <see cref="MemberLeft"/> follows in the same write.
/// </summary>
public record MemberBanned(Guid UserId, string? Reason, DateTimeOffset? Until, Guid BannedBy, DateTimeOffset BannedAt);

public record MemberUnbanned(Guid UserId, Guid UnbannedBy, DateTimeOffset UnbannedAt);

/// <summary>A moderator stopped a member from posting and reacting until <see cref="Until"/>; null lifts it.</summary>
public record MemberTimedOut(Guid UserId, DateTimeOffset? Until, Guid TimedOutBy, DateTimeOffset At);

/// <summary>
/// A message was posted. <see cref="ForwardedFrom"/>, <see cref="Bot"/> and <see cref="MassMention"/> came later: events
/// stored before them have none (not a forward; a user's message; no <c>@channel</c> or <c>@here</c>).
/// </summary>
public record MessagePosted(
    Guid MessageId,
    string ClientMessageId,
    Guid SenderId,
    string Text,
    IReadOnlyList<Guid> Mentions,
    IReadOnlyList<string> Urls,
    Guid? ReplyTo,
    IReadOnlyList<Guid> Attachments,
    DateTimeOffset PostedAt,
    ForwardReference? ForwardedFrom = null,
    BotAuthor? Bot = null,
    string? MassMention = null);

/// <summary>
/// Who posted when it was not a person: a bot user (<see cref="Kind"/> <c>bot</c>, its display name) or an incoming
/// webhook (<c>webhook</c>, the webhook's name; the sender id is then the webhook's id).
/// </summary>
public record BotAuthor(string Kind, string Name)
{
    public const string BotKind = "bot";
    public const string WebhookKind = "webhook";
}

public record MessageEdited(Guid MessageId, string Text, IReadOnlyList<Guid> Mentions, IReadOnlyList<string> Urls, Guid EditedBy, DateTimeOffset EditedAt) : IChangesMessage;

/// <summary>A tombstone: the message's text is erased from read models and from the stored events.</summary>
public record MessageDeleted(Guid MessageId, Guid DeletedBy, DateTimeOffset DeletedAt, string Reason) : IChangesMessage;

/// <summary>
/// A member reported a message to the conversation's moderators and the platform admins (the review queue is
/// <c>MessageReport</c> documents). In the log only moderators see who reported and why.
/// </summary>
public record MessageReported(Guid ReportId, Guid MessageId, Guid ReportedBy, string Reason, DateTimeOffset ReportedAt);

/// <summary>A member pinned a message to the conversation (at most <c>Pins.MaxPins</c> at a time).</summary>
public record MessagePinned(Guid MessageId, Guid PinnedBy, DateTimeOffset PinnedAt) : IChangesMessage;

public record MessageUnpinned(Guid MessageId, Guid UnpinnedBy, DateTimeOffset UnpinnedAt) : IChangesMessage;

public record ReactionAdded(Guid MessageId, string Emoji, Guid UserId, DateTimeOffset AddedAt) : IChangesMessage;

public record ReactionRemoved(Guid MessageId, string Emoji, Guid UserId, DateTimeOffset RemovedAt) : IChangesMessage;

/// <summary>Media fetched a preview of a URL in the message (from <c>LinkPreviewReady</c>); at most one per URL.</summary>
public record LinkPreviewAttached(
    Guid MessageId,
    string Url,
    string? Title,
    string? Description,
    string? ImageUrl,
    string? SiteName,
    DateTimeOffset FetchedAt,
    DateTimeOffset AttachedAt) : IChangesMessage;

/// <summary>What Media found out about an attached file (from <c>MediaReady</c>).</summary>
public record AttachmentDetails(
    Guid Id,
    string ContentType,
    long Size,
    int? Width,
    int? Height,
    long? DurationMs,
    string? ThumbnailUrl,
    string? BlurHash,
    bool Animated);

/// <summary>
/// Media processed files attached to the message (from <c>MediaReady</c>, whichever came first: the message or the
/// processing); each file's details are added once.
/// </summary>
public record MessageAttachmentsReady(Guid MessageId, IReadOnlyList<AttachmentDetails> Attachments, DateTimeOffset ReadyAt) : IChangesMessage;

public static class DeleteReasons
{
    public const string Deleted = "deleted";
    public const string Retention = "retention";
    /// <summary>The author deleted their account.</summary>
    public const string AccountDeleted = "account-deleted";
}

public enum CallKind { Audio, Video }

public enum CallEndReason { Completed, Missed, Declined, Failed }

/// <summary>A member started a call; the conversation's other members ring until <see cref="RingsUntil"/>.</summary>
public record CallStarted(Guid CallId, CallKind Kind, Guid StartedBy, DateTimeOffset StartedAt, DateTimeOffset RingsUntil);

/// <summary>
/// A call ended. <see cref="Participants"/> are everyone who was ever in it (the caller first);
/// <see cref="DurationSeconds"/> counts from the first answer (zero when nobody answered).
/// </summary>
public record CallEnded(
    Guid CallId,
    CallKind Kind,
    CallEndReason Reason,
    Guid EndedBy,
    IReadOnlyList<Guid> Participants,
    DateTimeOffset StartedAt,
    DateTimeOffset? AnsweredAt,
    DateTimeOffset EndedAt,
    long DurationSeconds);
