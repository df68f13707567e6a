namespace Platform.Contracts.Gateway;

/// <summary>
/// The delivered receipts one Gateway instance gathered from its connections over one interval (the hub's <c>Ack</c>):
/// for each user and conversation, the highest seq the user's client has. Messaging moves those members' delivered
/// cursors, all in one statement. A lost one is superseded by the next (clients acknowledge again as they receive more).
/// </summary>
public sealed record DeliveriesAcknowledged
{
    public required string InstanceId { get; init; }

    public required IReadOnlyList<DeliveryAcknowledgement> Items { get; init; }

    public required DateTimeOffset AcknowledgedAt { get; init; }
}

/// <summary>The user's client has the conversation's events up to <see cref="Seq"/>.</summary>
public sealed record DeliveryAcknowledgement
{
    public required Guid UserId { get; init; }

    public required Guid ConversationId { get; init; }

    public required long Seq { get; init; }
}
