using System.Text.Json;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;

namespace Platform.Messaging;

public sealed record ReactionDto(string Emoji, int Count, IReadOnlyList<Guid> UserIds);

public sealed record AttachmentDto(Guid Id);

public sealed record LinkPreviewDto(string Url, string? Title, string? Description, string? ImageUrl, string? SiteName);

/// <summary>The message shape clients code against (ARCHITECTURE.md).</summary>
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
    string? MassMention = null)
{
    public static MessageDto From(MessageView m) => new(
        m.Id, m.ConversationId, m.Seq, m.SenderId, m.ClientMessageId, m.Text, m.Mentions, m.Urls, m.ReplyTo, m.ReplyCount,
        m.LastReplyAt, m.Edited, m.EditedAt, m.Deleted,
        m.Reactions.Select(r => new ReactionDto(r.Emoji, r.UserIds.Count, r.UserIds)).ToList(),
        m.Attachments.Select(id => new AttachmentDto(id)).ToList(),
        m.CreatedAt,
        m.LinkPreviews.Select(p => new LinkPreviewDto(p.Url, p.Title, p.Description, p.ImageUrl, p.SiteName)).ToList(),
        m.Pinned,
        m.ForwardedFrom,
        m.MassMention);
}

/// <summary>One event of the log as clients see it, on the hub and from <c>GET /events</c>.</summary>
public sealed record EventEnvelope(Guid ConversationId, long Seq, string Type, DateTimeOffset OccurredAt, Guid ActorId, JsonElement Data);

public static class Envelopes
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <param name="message">For <see cref="MessagePosted"/>: the message as it is now (the live path) or as the event holds it (the log).</param>
    /// <param name="moderator">
    /// The reader moderates the conversation: they see who reported a message and why (<see cref="MessageReported"/>);
    /// everyone else, and the bus, only that a report was made.
    /// </param>
    public static EventEnvelope From(Guid conversationId, long seq, object @event, MessageView? message = null, bool moderator = false)
    {
        var (type, actor, at, data) = @event switch
        {
            ConversationCreated e => (ConversationEventTypes.ConversationCreated, e.CreatedBy, e.CreatedAt, (object)new
            {
                id = e.ConversationId, e.Kind, e.Title, e.Topic, e.IsPublic, e.RetentionDays,
                members = e.Members.Select(m => new { m.UserId, m.Role, m.Requested }), e.CreatedBy, e.CreatedAt,
            }),
            ConversationUpdated e => (ConversationEventTypes.ConversationUpdated, e.UpdatedBy, e.UpdatedAt,
                new { e.Title, e.Topic, e.RetentionDays, SlowModeSeconds = e.SlowModeSeconds ?? 0 }),
            MemberJoined e => (ConversationEventTypes.MemberJoined, e.AddedBy, e.JoinedAt, new { e.UserId, e.Role, e.AddedBy }),
            MemberLeft e => (ConversationEventTypes.MemberLeft, e.RemovedBy, e.LeftAt, new { e.UserId, e.RemovedBy }),
            RequestAccepted e => (ConversationEventTypes.RequestAccepted, e.UserId, e.AcceptedAt, new { e.UserId }),
            MemberRoleChanged e => (ConversationEventTypes.MemberRoleChanged, e.ChangedBy, e.ChangedAt, new { e.UserId, e.Role }),
            MemberBanned e => (ConversationEventTypes.MemberBanned, e.BannedBy, e.BannedAt, new { e.UserId, e.Reason, e.Until, e.BannedBy }),
            MemberUnbanned e => (ConversationEventTypes.MemberUnbanned, e.UnbannedBy, e.UnbannedAt, new { e.UserId, e.UnbannedBy }),
            MemberTimedOut e => (ConversationEventTypes.MemberTimedOut, e.TimedOutBy, e.At, new { e.UserId, e.Until, e.TimedOutBy }),
            MessagePosted e => (ConversationEventTypes.MessagePosted, e.SenderId, e.PostedAt,
                MessageDto.From(message ?? MessageView.Create(conversationId, seq, e))),
            MessageEdited e => (ConversationEventTypes.MessageEdited, e.EditedBy, e.EditedAt, new { e.MessageId, e.Text, e.Mentions, e.Urls, e.EditedAt }),
            MessageDeleted e => (ConversationEventTypes.MessageDeleted, e.DeletedBy, e.DeletedAt, new { e.MessageId, e.Reason }),
            MessageReported e when moderator => (ConversationEventTypes.MessageReported, e.ReportedBy, e.ReportedAt,
                new { e.ReportId, e.MessageId, e.ReportedBy, e.Reason }),
            MessageReported e => (ConversationEventTypes.MessageReported, Guid.Empty, e.ReportedAt, new { e.ReportId }),
            MessagePinned e => (ConversationEventTypes.MessagePinned, e.PinnedBy, e.PinnedAt, new { e.MessageId, e.PinnedBy }),
            MessageUnpinned e => (ConversationEventTypes.MessageUnpinned, e.UnpinnedBy, e.UnpinnedAt, new { e.MessageId, e.UnpinnedBy }),
            ReactionAdded e => (ConversationEventTypes.ReactionAdded, e.UserId, e.AddedAt, new { e.MessageId, e.Emoji, e.UserId }),
            ReactionRemoved e => (ConversationEventTypes.ReactionRemoved, e.UserId, e.RemovedAt, new { e.MessageId, e.Emoji, e.UserId }),
            CallStarted e => (ConversationEventTypes.CallStarted, e.StartedBy, e.StartedAt, new { e.CallId, e.Kind, e.StartedBy, e.StartedAt, e.RingsUntil }),
            CallEnded e => (ConversationEventTypes.CallEnded, e.EndedBy, e.EndedAt, new
            {
                e.CallId, e.Kind, e.Reason, e.EndedBy, e.Participants, e.StartedAt, e.AnsweredAt, e.EndedAt, e.DurationSeconds,
            }),
            LinkPreviewAttached e => (ConversationEventTypes.LinkPreviewAttached, Retention.RetentionJob.SystemActor, e.AttachedAt,
                new { e.MessageId, e.Url, e.Title, e.Description, e.ImageUrl, e.SiteName }),
            _ => throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "Not a conversation event."),
        };
        return new EventEnvelope(conversationId, seq, type, at, actor, JsonSerializer.SerializeToElement(data, data.GetType(), Json));
    }

    public static ConversationEvent ToContract(EventEnvelope envelope, Guid eventId, DateTimeOffset committedAt) => new()
    {
        EventId = eventId,
        ConversationId = envelope.ConversationId,
        Seq = envelope.Seq,
        Type = envelope.Type,
        OccurredAt = envelope.OccurredAt,
        ActorId = envelope.ActorId,
        Data = envelope.Data,
        CommittedAt = committedAt,
    };
}
