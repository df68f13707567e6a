namespace Platform.Contracts.Identity;

/// <summary>
/// Users added to or removed from <see cref="OwnerId"/>'s contacts. Two users who have each other, or either has the
/// other, share a contact relation (Presence shows them each other's presence). Apply per pair by <see cref="ChangedAt"/>.
/// </summary>
public sealed record ContactsChanged
{
    public required Guid OwnerId { get; init; }

    public IReadOnlyList<Guid> Added { get; init; } = [];

    public IReadOnlyList<Guid> Removed { get; init; } = [];

    public required DateTimeOffset ChangedAt { get; init; }
}
