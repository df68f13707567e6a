using System.Diagnostics.Metrics;

namespace Platform.Gateway.Realtime;

/// <summary>The realtime edge's metrics (meter <c>Platform.Gateway</c>).</summary>
public sealed class RealtimeMetrics
{
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _disconnects;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _replayReads;
    private readonly UpDownCounter<long> _replaysWaiting;

    public RealtimeMetrics(IMeterFactory meters)
    {
        var meter = meters.Create("Platform.Gateway");
        _connections = meter.CreateUpDownCounter<long>("platform.gateway.connections", description: "Open realtime connections on this instance.");
        _deliveries = meter.CreateCounter<long>("platform.gateway.deliveries",
            description: "Conversation events pushed to connections, by what let them through: path=answer (a send's answer, ahead of the bus), path=bus (the bus, a resume or a replay).");
        _disconnects = meter.CreateCounter<long>("platform.gateway.disconnects", description: "Connections closed by the server, by reason.");
        _latency = meter.CreateHistogram<double>("platform.gateway.send_to_deliver", unit: "ms",
            description: "From the event's commit in Messaging until it is queued for a connection.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] });
        _replayReads = meter.CreateCounter<long>("platform.gateway.replay_reads",
            description: "Reads of Messaging for connections (a new connection's conversations; log pages for a resume, a gap, a broker reconnect), by outcome.");
        _replaysWaiting = meter.CreateUpDownCounter<long>("platform.gateway.replays_waiting",
            description: "Reads of Messaging waiting for one of the Realtime:MaxConcurrentReplays slots.");
    }

    public void ReplayRead(string outcome) => _replayReads.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void ReplayWaiting(int change) => _replaysWaiting.Add(change);

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed() => _connections.Add(-1);

    public void Disconnected(string reason) => _disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Delivered(TimeSpan? sinceCommit, bool ahead = false)
    {
        _deliveries.Add(1, new KeyValuePair<string, object?>("path", ahead ? "answer" : "bus"));
        if (sinceCommit is { } latency)
            _latency.Record(Math.Max(0, latency.TotalMilliseconds));
    }
}
