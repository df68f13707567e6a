namespace Platform.Contracts.Presence;

/// <summary>
/// Fewer users may now see the presence of <see cref="UserIds"/> (a block, a privacy setting, a contact removed). Whoever
/// passes on their presence asks Presence again, for each watcher, and stops for those who now get <c>unknown</c>.
/// </summary>
public sealed record PresenceVisibilityNarrowed
{
    public required IReadOnlyList<Guid> UserIds { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
