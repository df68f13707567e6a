namespace Platform.Contracts.Messaging;

// The `data` of each conversation event type: what Messaging publishes in ConversationEvent.Data, what clients
// receive in the hub envelope and GET /events, and what consumers read (ConversationEventData.Read). One record per
// type, marked with its wire name and version. The JSON of each is snapshotted under Schemas/: an incompatible change
// fails the build's tests (BuildingBlocks.Tests/ContractSchemaTests); make a new version instead.
// Enumerations travel as their kebab-case names (kind "group", role "admin", ...), as strings.

/// <summary>A member of a new conversation. <see cref="Requested"/>: a message request this member has not accepted yet.</summary>
public sealed record InitialMemberData(Guid UserId, string Role, bool Requested);

[ConversationEventType(ConversationEventTypes.ConversationCreated)]
public sealed record ConversationCreatedData(
    Guid Id,
    string Kind,
    string? Title,
    string? Topic,
    bool IsPublic,
    int? RetentionDays,
    IReadOnlyList<InitialMemberData> Members,
    Guid CreatedBy,
    DateTimeOffset CreatedAt) : IConversationEventData;

/// <summary>The conversation's settings after the change (all of them, not only what changed); slow mode 0 is off.</summary>
[ConversationEventType(ConversationEventTypes.ConversationUpdated)]
public sealed record ConversationUpdatedData(string? Title, string? Topic, int? RetentionDays, int SlowModeSeconds) : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MemberJoined)]
public sealed record MemberJoinedData(Guid UserId, string Role, Guid AddedBy) : IConversationEventData;

/// <summary>A member left (<see cref="RemovedBy"/> is the member) or was removed.</summary>
[ConversationEventType(ConversationEventTypes.MemberLeft)]
public sealed record MemberLeftData(Guid UserId, Guid RemovedBy) : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MemberBanned)]
public sealed record MemberBannedData(Guid UserId, string? Reason, DateTimeOffset? Until, Guid BannedBy) : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MemberUnbanned)]
public sealed record MemberUnbannedData(Guid UserId, Guid UnbannedBy) : IConversationEventData;

/// <summary>The member cannot post or react until <see cref="Until"/>; null lifts it.</summary>
[ConversationEventType(ConversationEventTypes.MemberTimedOut)]
public sealed record MemberTimedOutData(Guid UserId, DateTimeOffset? Until, Guid TimedOutBy) : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MemberRoleChanged)]
public sealed record MemberRoleChangedData(Guid UserId, string Role) : IConversationEventData;

/// <summary>A direct conversation's recipient accepted its message request.</summary>
[ConversationEventType(ConversationEventTypes.RequestAccepted)]
public sealed record RequestAcceptedData(Guid UserId) : IConversationEventData;

public sealed record ReactionDto(string Emoji, int Count, IReadOnlyList<Guid> UserIds);

/// <summary>An attached file: its id at once, the rest once Media has processed it (<c>message.attachments-ready</c>).</summary>
public sealed record AttachmentDto(
    Guid Id,
    string? ContentType = null,
    long? Size = null,
    int? Width = null,
    int? Height = null,
    long? DurationMs = null,
    string? ThumbnailUrl = null,
    string? BlurHash = null,
    bool? Animated = null);

public sealed record LinkPreviewDto(string Url, string? Title, string? Description, string? ImageUrl, string? SiteName);

/// <summary>The message a forward was made from: a reference its readers may or may not be able to open.</summary>
public sealed record ForwardReference(Guid ConversationId, Guid MessageId);

/// <summary>
/// The message shape clients code against (ARCHITECTURE.md), in the HTTP API and as the <c>data</c> of
/// <c>message.posted</c>.
/// </summary>
[ConversationEventType(ConversationEventTypes.MessagePosted)]
public sealed record MessageDto(
    Guid Id,
    Guid ConversationId,
    long Seq,
    Guid SenderId,
    string ClientMessageId,
    string Text,
    IReadOnlyList<Guid> Mentions,
    IReadOnlyList<string> Urls,
    Guid? ReplyTo,
    int ReplyCount,
    DateTimeOffset? LastReplyAt,
    bool Edited,
    DateTimeOffset? EditedAt,
    bool Deleted,
    IReadOnlyList<ReactionDto> Reactions,
    IReadOnlyList<AttachmentDto> Attachments,
    DateTimeOffset CreatedAt,
    IReadOnlyList<LinkPreviewDto> LinkPreviews,
    bool Pinned,
    ForwardReference? ForwardedFrom,
    bool SenderIsBot = false,
    string SenderKind = "user",
    string? SenderName = null,
    string? MassMention = null) : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MessageEdited)]
public sealed record MessageEditedData(Guid MessageId, string Text, IReadOnlyList<Guid> Mentions, IReadOnlyList<string> Urls, DateTimeOffset EditedAt)
    : IMessageEventData;

/// <summary>A tombstone; <see cref="Reason"/> is <c>deleted</c>, <c>retention</c> or <c>account-deleted</c>.</summary>
[ConversationEventType(ConversationEventTypes.MessageDeleted)]
public sealed record MessageDeletedData(Guid MessageId, string? Reason) : IMessageEventData;

/// <summary>
/// A report. Moderators see who reported which message and why; everyone else, and the bus, only <see cref="ReportId"/>
/// (the other properties are then absent from the JSON).
/// </summary>
[ConversationEventType(ConversationEventTypes.MessageReported)]
public sealed record MessageReportedData(
    Guid ReportId,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] Guid? MessageId = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] Guid? ReportedBy = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Reason = null)
    : IConversationEventData;

[ConversationEventType(ConversationEventTypes.MessagePinned)]
public sealed record MessagePinnedData(Guid MessageId, Guid PinnedBy) : IMessageEventData;

[ConversationEventType(ConversationEventTypes.MessageUnpinned)]
public sealed record MessageUnpinnedData(Guid MessageId, Guid UnpinnedBy) : IMessageEventData;

[ConversationEventType(ConversationEventTypes.ReactionAdded)]
public sealed record ReactionAddedData(Guid MessageId, string Emoji, Guid UserId) : IMessageEventData;

[ConversationEventType(ConversationEventTypes.ReactionRemoved)]
public sealed record ReactionRemovedData(Guid MessageId, string Emoji, Guid UserId) : IMessageEventData;

/// <summary>Media fetched a preview of a URL in the message; at most one per URL.</summary>
[ConversationEventType(ConversationEventTypes.LinkPreviewAttached)]
public sealed record LinkPreviewAttachedData(Guid MessageId, string Url, string? Title, string? Description, string? ImageUrl, string? SiteName)
    : IMessageEventData;

/// <summary>Media processed files of the message: each with its details (type, size, dimensions, thumbnail, blurhash).</summary>
[ConversationEventType(ConversationEventTypes.MessageAttachmentsReady)]
public sealed record MessageAttachmentsReadyData(Guid MessageId, IReadOnlyList<AttachmentDto> Attachments) : IMessageEventData;

/// <summary>A member started a call (<see cref="Kind"/> <c>audio</c> or <c>video</c>); the others ring until <see cref="RingsUntil"/>.</summary>
[ConversationEventType(ConversationEventTypes.CallStarted)]
public sealed record CallStartedData(Guid CallId, string Kind, Guid StartedBy, DateTimeOffset StartedAt, DateTimeOffset RingsUntil) : IConversationEventData;

/// <summary>
/// A call ended (<see cref="Reason"/> <c>completed</c>, <c>missed</c>, <c>declined</c> or <c>failed</c>).
/// <see cref="Participants"/>: everyone who was ever in it, the caller first.
/// </summary>
[ConversationEventType(ConversationEventTypes.CallEnded)]
public sealed record CallEndedData(
    Guid CallId,
    string Kind,
    string Reason,
    Guid EndedBy,
    IReadOnlyList<Guid> Participants,
    DateTimeOffset StartedAt,
    DateTimeOffset? AnsweredAt,
    DateTimeOffset EndedAt,
    long DurationSeconds) : IConversationEventData;
