using System.Diagnostics.Metrics;

namespace Platform.Notifications;

public static class NotificationMetrics
{
    public const string MeterName = "Platform.Notifications";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Pushes = Meter.CreateCounter<long>("platform.notifications.pushes", description: "Push attempts by platform and result.");
    private static readonly Counter<long> Invites = Meter.CreateCounter<long>("platform.notifications.invites", description: "Invites sent by channel.");

    public static void Pushed(string platform, string result) =>
        Pushes.Add(1, new KeyValuePair<string, object?>("platform", platform), new KeyValuePair<string, object?>("result", result.ToLowerInvariant()));

    public static void InviteSent(string channel) => Invites.Add(1, new KeyValuePair<string, object?>("channel", channel));
}
