namespace Platform.Contracts.Presence;

/// <summary>A user's visible presence changed (published only on real transitions).</summary>
public sealed record PresenceChanged
{
    public required Guid UserId { get; init; }

    /// <summary>online or offline, as others may see it (invisible users are offline).</summary>
    public required string Status { get; init; }

    public DateTimeOffset? LastActiveAt { get; init; }

    public string? StatusText { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
