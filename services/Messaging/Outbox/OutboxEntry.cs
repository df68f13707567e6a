using System.Diagnostics;
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

    /// <summary>
    /// The W3C <c>traceparent</c> (and <c>tracestate</c>) of the request that wrote the entry: the publish, whenever and
    /// wherever it happens (the request's own background publish, the relay, another replica), continues that trace.
    /// </summary>
    public string? TraceParent { get; init; }

    public string? TraceState { get; init; }

    public static OutboxEntry For(Guid conversationId, long seq, object @event, WriteContext context)
    {
        var message = @event is MessagePosted posted ? context.ChangedMessages.FirstOrDefault(m => m.Id == posted.MessageId) : null;
        var id = Guid.CreateVersion7();
        var contract = Envelopes.ToContract(conversationId, seq, @event, id, committedAt: null, message);
        return new OutboxEntry
        {
            Id = id,
            ConversationId = conversationId,
            Seq = seq,
            CreatedAt = contract.OccurredAt,
            Message = contract,
            TraceParent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null,
            TraceState = Activity.Current?.TraceStateString,
        };
    }
}
