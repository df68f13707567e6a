using System.Diagnostics.Metrics;

namespace Platform.Presence;

public static class PresenceMetrics
{
    public const string MeterName = "Platform.Presence";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Transitions = Meter.CreateCounter<long>("platform.presence.transitions", description: "PresenceChanged events published, by status.");
    private static readonly Counter<long> SweepFailures = Meter.CreateCounter<long>("platform.presence.sweep.failures", description: "Sweeps that failed and will be retried.");

    public static void Published(string status) => Transitions.Add(1, new KeyValuePair<string, object?>("status", status));

    public static void SweepFailed() => SweepFailures.Add(1);
}
