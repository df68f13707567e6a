using System.Text.Json;

namespace Platform.Contracts.Messaging;

/// <summary>
/// One committed event of a conversation's log, published by Messaging through its outbox.
/// It is the envelope clients receive: <c>{conversationId, seq, type, occurredAt, actorId, data}</c>.
/// Consumers deduplicate on (<see cref="ConversationId"/>, <see cref="Seq"/>).
/// </summary>
public sealed record ConversationEvent
{
    /// <summary>The stored event's id.</summary>
    public required Guid EventId { get; init; }

    public required Guid ConversationId { get; init; }

    /// <summary>The conversation's sequence number: gap-free, strictly increasing per conversation.</summary>
    public required long Seq { get; init; }

    /// <summary>One of <see cref="ConversationEventTypes"/>.</summary>
    public required string Type { get; init; }

    public required DateTimeOffset OccurredAt { get; init; }

    public required Guid ActorId { get; init; }

    /// <summary>The event's public payload (for <c>message.posted</c>, the message).</summary>
    public required JsonElement Data { get; init; }

    /// <summary>When the append committed; the start of send-to-deliver latency.</summary>
    public DateTimeOffset? CommittedAt { get; init; }
}

/// <summary>The <c>type</c> values of the conversation log, as clients see them.</summary>
public static class ConversationEventTypes
{
    public const string ConversationCreated = "conversation.created";
    public const string ConversationUpdated = "conversation.updated";
    public const string MemberJoined = "member.joined";
    public const string MemberLeft = "member.left";
    public const string MemberBanned = "member.banned";
    public const string MemberUnbanned = "member.unbanned";
    public const string MemberTimedOut = "member.timed-out";
    public const string MemberRoleChanged = "member.role-changed";
    /// <summary>A direct conversation's recipient accepted its message request (<c>data: { userId }</c>).</summary>
    public const string RequestAccepted = "request.accepted";
    public const string MessagePosted = "message.posted";
    public const string MessageEdited = "message.edited";
    public const string MessageDeleted = "message.deleted";
    public const string MessagePinned = "message.pinned";
    /// <summary>A message was reported; on the bus and for members <c>data</c> is only <c>{ reportId }</c> and the actor is empty.</summary>
    public const string MessageReported = "message.reported";
    public const string MessageUnpinned = "message.unpinned";
    public const string ReactionAdded = "reaction.added";
    public const string ReactionRemoved = "reaction.removed";
    public const string LinkPreviewAttached = "link-preview.attached";
    /// <summary>Media processed files attached to a message: <c>data: { messageId, attachments: [attachment shape] }</c>.</summary>
    public const string MessageAttachmentsReady = "message.attachments-ready";
    public const string CallStarted = "call.started";
    public const string CallEnded = "call.ended";
}
