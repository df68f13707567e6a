namespace Platform.Contracts.Messaging;

/// <summary>
/// A member's delivered/read cursors moved (coalesced). They move forward, except the read cursor the member moves back
/// themselves (mark unread), which is told with <see cref="OwnDevicesOnly"/>.
/// </summary>
public sealed record ReceiptsChanged
{
    public required Guid ConversationId { get; init; }

    public required Guid UserId { get; init; }

    public long? DeliveredSeq { get; init; }

    public long? ReadSeq { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }

    /// <summary>
    /// Only the reader's own devices learn of it (channels: a receipt is nobody else's business, and pushing each one
    /// to every member costs a message per member per ack); otherwise every member's connections do.
    /// </summary>
    public bool OwnDevicesOnly { get; init; }

    /// <summary>
    /// When set, only these users' connections learn of it: the senders of the messages the moved cursors now cover (their
    /// "delivered" and "read" marks change), and the member, whose own devices follow their read cursor. When null, every
    /// member's connections (or the member's own, with <see cref="OwnDevicesOnly"/>), as Messaging told all receipts
    /// before; a Gateway that does not know this property does the same, which tells more users than needed, never fewer.
    /// </summary>
    public IReadOnlyList<Guid>? ToUserIds { get; init; }
}

/// <summary>
/// The receipt changes of one flush of Messaging's receipt publisher (every 200 ms), in one message: one publish and one
/// consume per flush instead of one per member. Consumers handle each item as a <see cref="ReceiptsChanged"/>.
/// </summary>
public sealed record ReceiptsChangedBatch
{
    public required IReadOnlyList<ReceiptsChanged> Items { get; init; }
}
