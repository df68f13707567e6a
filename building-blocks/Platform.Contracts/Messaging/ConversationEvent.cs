using System.Text.Json;

namespace Platform.Contracts.Messaging;

/// <summary>
/// One committed event of a conversation's log, published by Messaging through its outbox.
/// It is the envelope clients receive: <c>{conversationId, seq, type, occurredAt, actorId, data}</c>.
/// Consumers deduplicate on (<see cref="ConversationId"/>, <see cref="Seq"/>).
/// </summary>
public sealed record ConversationEvent
{
    /// <summary>One committed event, its data written from its typed record.</summary>
    public static ConversationEvent Create(Guid eventId, Guid conversationId, long seq, DateTimeOffset occurredAt, Guid actorId, IConversationEventData data,
        DateTimeOffset? committedAt = null)
    {
        var type = ConversationEventData.TypeOf(data);
        return new ConversationEvent
        {
            EventId = eventId,
            ConversationId = conversationId,
            Seq = seq,
            Type = type.Type,
            DataVersion = type.Version == 1 ? null : type.Version,
            OccurredAt = occurredAt,
            ActorId = actorId,
            Data = ConversationEventData.Serialize(data),
            CommittedAt = committedAt,
        };
    }

    /// <summary>The stored event's id.</summary>
    public required Guid EventId { get; init; }

    public required Guid ConversationId { get; init; }

    /// <summary>The conversation's sequence number: gap-free, strictly increasing per conversation.</summary>
    public required long Seq { get; init; }

    /// <summary>One of <see cref="ConversationEventTypes"/>.</summary>
    public required string Type { get; init; }

    public required DateTimeOffset OccurredAt { get; init; }

    public required Guid ActorId { get; init; }

    /// <summary>
    /// The event's public payload: the JSON of the <see cref="IConversationEventData"/> record of <see cref="Type"/>
    /// (for <c>message.posted</c>, the message). Read it with <see cref="ConversationEventData.Read(ConversationEvent)"/>.
    /// </summary>
    public required JsonElement Data { get; init; }

    /// <summary>The version of <see cref="Data"/>'s record (<see cref="ConversationEventTypeAttribute.Version"/>); absent means 1.</summary>
    public int? DataVersion { get; init; }

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

/// <summary>
/// One event of a conversation's log as clients receive it: on the hub, from <c>GET /conversations/{id}/events</c> and
/// in webhook deliveries (<c>{conversationId, seq, type, occurredAt, actorId, data}</c>). Built only here.
/// </summary>
public sealed record EventEnvelope(Guid ConversationId, long Seq, string Type, DateTimeOffset OccurredAt, Guid ActorId, JsonElement Data)
{
    public static EventEnvelope From(ConversationEvent e) => new(e.ConversationId, e.Seq, e.Type, e.OccurredAt, e.ActorId, e.Data);

    public static EventEnvelope Create(Guid conversationId, long seq, DateTimeOffset occurredAt, Guid actorId, IConversationEventData data) =>
        new(conversationId, seq, ConversationEventData.TypeOf(data).Type, occurredAt, actorId, ConversationEventData.Serialize(data));
}
