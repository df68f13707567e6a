namespace Platform.Contracts.Notifications;

public sealed record NotificationCreated
{
    public required Guid NotificationId { get; init; }

    public required Guid UserId { get; init; }

    /// <summary>mention, direct-message, reply, invite, ...</summary>
    public required string Kind { get; init; }

    public Guid? ConversationId { get; init; }

    public long? Seq { get; init; }

    public required string Title { get; init; }

    public string? Body { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
}
