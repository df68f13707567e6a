namespace Platform.Contracts.Presence;

/// <summary>
/// A user's presence as others see it changed (published only on real transitions). Replicas may publish two
/// changes of one user out of order: keep the one with the higher <see cref="Version"/>.
/// </summary>
public sealed record PresenceChanged
{
    public required Guid UserId { get; init; }

    /// <summary><c>online</c> or <c>offline</c>, as others may see it (invisible users are offline).</summary>
    public required string Status { get; init; }

    /// <summary>While online: <c>available</c>, <c>away</c> or <c>dnd</c>, as the user set it.</summary>
    public string? Availability { get; init; }

    public DateTimeOffset? LastActiveAt { get; init; }

    public string? StatusText { get; init; }

    /// <summary>Increases with every change of this user's visible presence.</summary>
    public required long Version { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
