using System.Text.Json;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;

namespace Platform.Messaging;

/// <summary>The message shape's factory from the read model (the shape itself is <see cref="MessageDto"/> in Platform.Contracts).</summary>
public static class MessageDtos
{
    public static MessageDto ToDto(this MessageView m) => new(
        m.Id, m.ConversationId, m.Seq, m.SenderId, m.ClientMessageId, m.Text, m.Mentions, m.Urls, m.ReplyTo, m.ReplyCount,
        m.LastReplyAt, m.Edited, m.EditedAt, m.Deleted,
        m.Reactions.Select(r => new ReactionDto(r.Emoji, r.UserIds.Count, r.UserIds)).ToList(),
        m.AttachmentsOf(),
        m.CreatedAt,
        m.LinkPreviews.Select(p => new LinkPreviewDto(p.Url, p.Title, p.Description, p.ImageUrl, p.SiteName)).ToList(),
        m.Pinned,
        m.ForwardedFrom,
        m.Bot is not null,
        m.Bot?.Kind ?? "user",
        m.Bot?.Name,
        m.MassMention);

    public static AttachmentDto ToDto(this AttachmentDetails d) =>
        new(d.Id, d.ContentType, d.Size, d.Width, d.Height, d.DurationMs, d.ThumbnailUrl, d.BlurHash, d.Animated);

    /// <summary>The message's files: each with its details once Media has processed it, else its id alone.</summary>
    public static IReadOnlyList<AttachmentDto> AttachmentsOf(this MessageView m) =>
        m.Attachments.Select(id => m.AttachmentDetails.FirstOrDefault(d => d.Id == id) is { } details ? details.ToDto() : new AttachmentDto(id)).ToList();
}

public static class Envelopes
{
    /// <summary>A stored event's public description: its actor, its time and its typed data.</summary>
    /// <param name="message">For <see cref="MessagePosted"/>: the message as it is now (the live path) or as the event holds it (the log).</param>
    /// <param name="moderator">
    /// The reader moderates the conversation: they see who reported a message and why (<see cref="MessageReported"/>);
    /// everyone else, and the bus, only that a report was made.
    /// </param>
    public static (Guid Actor, DateTimeOffset At, IConversationEventData Data) Describe(
        Guid conversationId, long seq, object @event, MessageView? message = null, bool moderator = false) => @event switch
        {
            ConversationCreated e => (e.CreatedBy, e.CreatedAt, new ConversationCreatedData(
                e.ConversationId, Wire(e.Kind), e.Title, e.Topic, e.IsPublic, e.RetentionDays,
                e.Members.Select(m => new InitialMemberData(m.UserId, Wire(m.Role), m.Requested)).ToList(), e.CreatedBy, e.CreatedAt)),
            ConversationUpdated e => (e.UpdatedBy, e.UpdatedAt, new ConversationUpdatedData(e.Title, e.Topic, e.RetentionDays, e.SlowModeSeconds ?? 0)),
            MemberJoined e => (e.AddedBy, e.JoinedAt, new MemberJoinedData(e.UserId, Wire(e.Role), e.AddedBy)),
            MemberLeft e => (e.RemovedBy, e.LeftAt, new MemberLeftData(e.UserId, e.RemovedBy)),
            RequestAccepted e => (e.UserId, e.AcceptedAt, new RequestAcceptedData(e.UserId)),
            MemberRoleChanged e => (e.ChangedBy, e.ChangedAt, new MemberRoleChangedData(e.UserId, Wire(e.Role))),
            MemberBanned e => (e.BannedBy, e.BannedAt, new MemberBannedData(e.UserId, e.Reason, e.Until, e.BannedBy)),
            MemberUnbanned e => (e.UnbannedBy, e.UnbannedAt, new MemberUnbannedData(e.UserId, e.UnbannedBy)),
            MemberTimedOut e => (e.TimedOutBy, e.At, new MemberTimedOutData(e.UserId, e.Until, e.TimedOutBy)),
            MessagePosted e => (e.SenderId, e.PostedAt, (message ?? MessageView.Create(conversationId, seq, e)).ToDto()),
            MessageEdited e => (e.EditedBy, e.EditedAt, new MessageEditedData(e.MessageId, e.Text, e.Mentions, e.Urls, e.EditedAt)),
            MessageDeleted e => (e.DeletedBy, e.DeletedAt, new MessageDeletedData(e.MessageId, e.Reason)),
            MessageReported e when moderator => (e.ReportedBy, e.ReportedAt, new MessageReportedData(e.ReportId, e.MessageId, e.ReportedBy, e.Reason)),
            MessageReported e => (Guid.Empty, e.ReportedAt, new MessageReportedData(e.ReportId)),
            MessagePinned e => (e.PinnedBy, e.PinnedAt, new MessagePinnedData(e.MessageId, e.PinnedBy)),
            MessageUnpinned e => (e.UnpinnedBy, e.UnpinnedAt, new MessageUnpinnedData(e.MessageId, e.UnpinnedBy)),
            ReactionAdded e => (e.UserId, e.AddedAt, new ReactionAddedData(e.MessageId, e.Emoji, e.UserId)),
            ReactionRemoved e => (e.UserId, e.RemovedAt, new ReactionRemovedData(e.MessageId, e.Emoji, e.UserId)),
            CallStarted e => (e.StartedBy, e.StartedAt, new CallStartedData(e.CallId, Wire(e.Kind), e.StartedBy, e.StartedAt, e.RingsUntil)),
            CallEnded e => (e.EndedBy, e.EndedAt, new CallEndedData(
                e.CallId, Wire(e.Kind), Wire(e.Reason), e.EndedBy, e.Participants, e.StartedAt, e.AnsweredAt, e.EndedAt, e.DurationSeconds)),
            LinkPreviewAttached e => (Retention.RetentionJob.SystemActor, e.AttachedAt,
                new LinkPreviewAttachedData(e.MessageId, e.Url, e.Title, e.Description, e.ImageUrl, e.SiteName)),
            MessageAttachmentsReady e => (Retention.RetentionJob.SystemActor, e.ReadyAt,
                new MessageAttachmentsReadyData(e.MessageId, e.Attachments.Select(MessageDtos.ToDto).ToList())),
            _ => throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "Not a conversation event."),
        };

    /// <summary>The event as a reader of the log sees it (see <see cref="Describe"/>).</summary>
    public static EventEnvelope From(Guid conversationId, long seq, object @event, MessageView? message = null, bool moderator = false)
    {
        var (actor, at, data) = Describe(conversationId, seq, @event, message, moderator);
        return EventEnvelope.Create(conversationId, seq, at, actor, data);
    }

    /// <summary>The event as the bus carries it (never the moderators' view).</summary>
    public static ConversationEvent ToContract(Guid conversationId, long seq, object @event, Guid eventId, DateTimeOffset? committedAt, MessageView? message = null)
    {
        var (actor, at, data) = Describe(conversationId, seq, @event, message);
        return ConversationEvent.Create(eventId, conversationId, seq, at, actor, data, committedAt ?? at);
    }

    /// <summary>An enumeration as the wire writes it: its kebab-case name (<c>group</c>, <c>admin</c>, <c>audio</c>).</summary>
    private static string Wire<TEnum>(TEnum value) where TEnum : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());
}
