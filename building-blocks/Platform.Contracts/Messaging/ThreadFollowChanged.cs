namespace Platform.Contracts.Messaging;

/// <summary>
/// A member followed or unfollowed a thread themselves (<c>PUT</c>/<c>DELETE .../follow</c>). Replying, and being the root's
/// author, follow implicitly and are not told this way (the log's <c>message.posted</c> says so).
/// </summary>
public sealed record ThreadFollowChanged
{
    public required Guid ConversationId { get; init; }

    /// <summary>The thread's root message.</summary>
    public required Guid RootId { get; init; }

    public required Guid UserId { get; init; }

    public required bool Following { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
