namespace Platform.Contracts.Identity;

/// <summary>
/// Users <see cref="OwnerId"/> blocked (<see cref="Added"/>) or unblocked (<see cref="Removed"/>). A block works both
/// ways: no direct messages, adds, calls, presence or typing between the two. Apply per pair by <see cref="ChangedAt"/>.
/// </summary>
public sealed record BlocksChanged
{
    public required Guid OwnerId { get; init; }

    public IReadOnlyList<Guid> Added { get; init; } = [];

    public IReadOnlyList<Guid> Removed { get; init; } = [];

    public required DateTimeOffset ChangedAt { get; init; }
}

/// <summary>
/// A user's privacy settings after a change (all of them). <see cref="LastSeen"/>: <c>everyone</c>, <c>contacts</c> or
/// <c>nobody</c> may see their online state and last-active time; <see cref="ReadReceipts"/> false hides their read
/// positions from others; <see cref="WhoCanAdd"/>: <c>everyone</c> or <c>contacts</c> may add them to groups.
/// Keep the newest by <see cref="ChangedAt"/>.
/// </summary>
public sealed record PrivacyChanged
{
    public required Guid UserId { get; init; }

    public required string LastSeen { get; init; }

    public required bool ReadReceipts { get; init; }

    public required string WhoCanAdd { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}
