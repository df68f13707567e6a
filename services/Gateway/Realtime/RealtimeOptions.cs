using System.ComponentModel.DataAnnotations;

namespace Platform.Gateway.Realtime;

public sealed class RealtimeOptions
{
    public const string Section = "Realtime";

    /// <summary>Browser origins allowed to open the hub (and call the API with CORS). Clients without an Origin header are not affected.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Largest hub message a client may send, in bytes.</summary>
    [Range(1024, 1024 * 1024)]
    public long MaximumReceiveMessageSize { get; set; } = 64 * 1024;

    /// <summary>Messages queued for one connection before it counts as too slow and is disconnected.</summary>
    [Range(10, 1_000_000)]
    public int SendQueueLimit { get; set; } = 2000;

    [Range(1, 1000)]
    public int MaxConnectionsPerUser { get; set; } = 20;

    /// <summary>Hub calls a connection may make per second (burst of the same size).</summary>
    [Range(1, 10_000)]
    public int CallsPerSecond { get; set; } = 50;

    /// <summary>
    /// How long after connecting live events wait for the client's <c>Resume</c> of that conversation before they
    /// flow anyway (so a replay is never overtaken by live events).
    /// </summary>
    public TimeSpan ResumeGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Reads this instance sends Messaging at once for connections (a new connection's conversations, replays after a
    /// resume, a gap or a broker reconnect); the rest wait their turn, so thousands of connections coming back after a
    /// restart do not flood it.
    /// </summary>
    [Range(1, 1024)]
    public int MaxConcurrentReplays { get; set; } = 32;

    /// <summary>The longest wait between tries of a read that failed (Messaging down or overloaded); tries go on while the connection lives.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan ReplayRetryMaxInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether this instance's connections get a send's events from Messaging's answer to the send it forwarded, ahead
    /// of the bus (which still brings them; the copy is dropped by seq): about the outbox's publish and a broker round
    /// trip sooner for the members connected to the instance the sender uses. Off: events come by the bus alone.
    /// </summary>
    public bool DeliverFromSendAnswer { get; set; } = true;

    public TimeSpan TypingThrottle { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan TypingExpiry { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long delivered receipts (Ack) are gathered before one request per conversation goes to Messaging.</summary>
    public TimeSpan AckBatchInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long the senders of messages are gathered before Presence is told their activity in one message
    /// (<see cref="ActivityReporter"/>): a sender's last-active time moves this much later at most.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:30")]
    public TimeSpan ActivityReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often this instance tells Presence it is alive; keep it well under Presence's instance TTL (30 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest <c>Signal</c> payload (its JSON), in bytes: a larger one fails the call. A whole hub message larger than
    /// <see cref="MaximumReceiveMessageSize"/> closes the connection before it gets here, so keep this below that.
    /// </summary>
    [Range(256, 1024 * 1024)]
    public int MaxSignalPayloadBytes { get; set; } = 60 * 1024;

    /// <summary><c>Signal</c> calls a connection may make per second, on top of <see cref="CallsPerSecond"/>.</summary>
    [Range(1, 10_000)]
    public int SignalsPerSecond { get; set; } = 20;

    /// <summary>How many <c>Signal</c> calls may come at once (ICE candidates arrive in bursts).</summary>
    [Range(1, 10_000)]
    public int SignalBurst { get; set; } = 50;

    /// <summary>How long a call's participants, as Messaging answered, are trusted before asking again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan CallParticipantsCacheTime { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A signal not delivered within this time is dropped.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan SignalExpiry { get; set; } = TimeSpan.FromSeconds(30);
}
