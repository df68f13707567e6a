namespace Platform.Contracts.Gateway;

public sealed record ConnectionOpened
{
    public required string ConnectionId { get; init; }

    public required Guid UserId { get; init; }

    public required string InstanceId { get; init; }

    /// <summary>web, mobile, desktop or other, as the client said.</summary>
    public required string DeviceKind { get; init; }

    public required DateTimeOffset OpenedAt { get; init; }
}

public sealed record ConnectionClosed
{
    public required string ConnectionId { get; init; }

    public required Guid UserId { get; init; }

    public required string InstanceId { get; init; }

    public required DateTimeOffset ClosedAt { get; init; }
}

/// <summary>A Gateway instance is alive; an instance that stops sending these has died with its connections.</summary>
public sealed record InstanceHeartbeat
{
    public required string InstanceId { get; init; }

    public required int LiveConnections { get; init; }

    public required DateTimeOffset SentAt { get; init; }

    /// <summary>The instance is shutting down: its connections end now (their clients reconnect elsewhere).</summary>
    public bool Stopping { get; init; }
}

/// <summary>A member is typing; never stored, expires on its own.</summary>
public sealed record TypingChanged
{
    public required Guid ConversationId { get; init; }

    public required Guid UserId { get; init; }

    public required string InstanceId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Users who must not see it: those with a block between them and the typist, either way (empty: none).</summary>
    public IReadOnlyList<Guid> HiddenFrom { get; init; } = [];
}
