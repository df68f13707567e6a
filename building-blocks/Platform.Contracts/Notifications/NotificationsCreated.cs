namespace Platform.Contracts.Notifications;

/// <summary>
/// The notifications one event created, for several users, as one message: a message in a group of five notifies four
/// members, and one publish, one broker delivery per Gateway and one consume carry them all (four of each before).
/// Gateways also still consume <see cref="NotificationCreated"/>, which older Notifications replicas publish.
/// </summary>
public sealed record NotificationsCreated
{
    public required IReadOnlyList<NotificationCreated> Notifications { get; init; }
}
