namespace Platform.Contracts.Messaging;

/// <summary>A member's delivered/read cursors moved forward (coalesced; cursors never move back).</summary>
public sealed record ReceiptsChanged
{
    public required Guid ConversationId { get; init; }

    public required Guid UserId { get; init; }

    public long? DeliveredSeq { get; init; }

    public long? ReadSeq { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
