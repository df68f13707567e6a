using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Outbox;

/// <summary>A committed event waiting to be published; written in the same transaction as the append.</summary>
public sealed record OutboxEntry
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public long Seq { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public ConversationEvent Message { get; init; } = null!;

    public static OutboxEntry For(Guid conversationId, long seq, object @event, WriteContext context)
    {
        var message = @event is MessagePosted posted ? context.ChangedMessages.FirstOrDefault(m => m.Id == posted.MessageId) : null;
        var envelope = Envelopes.From(conversationId, seq, @event, message);
        var id = Guid.CreateVersion7();
        return new OutboxEntry
        {
            Id = id,
            ConversationId = conversationId,
            Seq = seq,
            CreatedAt = envelope.OccurredAt,
            Message = Envelopes.ToContract(envelope, id, envelope.OccurredAt),
        };
    }
}
