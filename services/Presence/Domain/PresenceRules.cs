namespace Platform.Presence.Domain;

/// <summary>What a user set: <c>available</c>, <c>away</c>, <c>dnd</c> or <c>invisible</c>, with an optional text and expiry.</summary>
public sealed record UserStatus(string Status, string? Text, DateTimeOffset? ExpiresAt)
{
    public const string Available = "available";
    public const string Away = "away";
    public const string DoNotDisturb = "dnd";
    public const string Invisible = "invisible";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Available, Away, DoNotDisturb, Invisible };

    public static readonly UserStatus Default = new(Available, null, null);
}

/// <summary>A user's presence as others see it.</summary>
public sealed record Shown(string Status, string? Availability, string? Text)
{
    public const string Online = "online";
    public const string Offline = "offline";
    public const string Unknown = "unknown";

    public static readonly Shown OfflineNoText = new(Offline, null, null);
}

/// <summary>
/// Where a user's connections stand: <paramref name="Connected"/> when one lives on a live instance;
/// otherwise <paramref name="LastGone"/> is when the last one ended (closed, or its instance last heard of).
/// </summary>
public sealed record Connections(bool Connected, DateTimeOffset? LastGone);

/// <param name="Shown">What others see now.</param>
/// <param name="Status">The user's own setting, reset when it expired.</param>
/// <param name="DueAt">When the answer may change without any new event (grace ends, status expires).</param>
/// <param name="WentOfflineAt">Set when the user counts as offline: when their last connection ended.</param>
public sealed record Evaluation(Shown Shown, UserStatus Status, DateTimeOffset? DueAt, DateTimeOffset? WentOfflineAt);

/// <summary>The presence rules, free of storage and clocks.</summary>
public static class PresenceRules
{
    /// <param name="wasOnline">Whether others saw the user online until now: the grace keeps an online user online, it never makes one.</param>
    public static Evaluation Evaluate(UserStatus status, Connections connections, bool wasOnline, DateTimeOffset now, TimeSpan grace)
    {
        if (status.ExpiresAt <= now)
            status = UserStatus.Default;

        DateTimeOffset? due = null;
        DateTimeOffset? wentOffline = null;
        bool online;
        if (connections.Connected)
            online = true;
        else if (wasOnline && connections.LastGone is { } gone && gone + grace > now)
        {
            // Within the grace period: still online, unless nothing reconnects before it ends.
            online = true;
            due = gone + grace;
        }
        else
        {
            online = false;
            wentOffline = connections.LastGone;
        }

        if (status.ExpiresAt is { } expires && (due is null || expires < due))
            due = expires;

        var shown = status.Status == UserStatus.Invisible
            ? Shown.OfflineNoText
            : new Shown(online ? Shown.Online : Shown.Offline, online ? status.Status : null, status.Text);
        return new Evaluation(shown, status, due, wentOffline);
    }

    /// <summary>The last-active time others see: frozen while the user is invisible.</summary>
    public static bool ShowsActivity(UserStatus status) => status.Status != UserStatus.Invisible;
}
