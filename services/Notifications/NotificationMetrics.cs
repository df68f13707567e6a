using System.Diagnostics.Metrics;

namespace Platform.Notifications;

public static class NotificationMetrics
{
    public const string MeterName = "Platform.Notifications";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Pushes = Meter.CreateCounter<long>("platform.notifications.pushes", description: "Push attempts by platform and result.");
    private static readonly Counter<long> Invites = Meter.CreateCounter<long>("platform.notifications.invites", description: "Invites sent by channel.");

    private static readonly Counter<long> WebhookDeliveries = Meter.CreateCounter<long>("platform.notifications.webhook_deliveries",
        description: "Webhook delivery attempts by result: delivered, retry (failed, will be tried again) or failed (given up).");

    private static double _webhookQueueAge;

    static NotificationMetrics() =>
        Meter.CreateObservableGauge("platform.notifications.webhook_queue_age", () => Volatile.Read(ref _webhookQueueAge), unit: "s",
            description: "Age of the oldest queued webhook delivery (0 when none waits).");

    public static void WebhookAttempted(string result) => WebhookDeliveries.Add(1, new KeyValuePair<string, object?>("result", result));

    public static void WebhookQueueAge(TimeSpan? age) => Volatile.Write(ref _webhookQueueAge, age?.TotalSeconds ?? 0);

    public static void Pushed(string platform, string result) =>
        Pushes.Add(1, new KeyValuePair<string, object?>("platform", platform), new KeyValuePair<string, object?>("result", result.ToLowerInvariant()));

    public static void InviteSent(string channel) => Invites.Add(1, new KeyValuePair<string, object?>("channel", channel));
}
