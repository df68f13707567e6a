namespace Platform.Contracts.Gateway;

/// <summary>
/// The users one Gateway instance saw act over one interval (a message sent through it), each with the latest time:
/// Presence moves their last-active times. It replaces Presence reading every posted message from the bus for its
/// sender. A lost one is superseded by the users' next activity (last-active times are kept to Presence's throttle anyway).
/// </summary>
public sealed record UsersActive
{
    public required string InstanceId { get; init; }

    public required IReadOnlyList<UserActivity> Items { get; init; }
}

public sealed record UserActivity
{
    public required Guid UserId { get; init; }

    public required DateTimeOffset At { get; init; }
}
