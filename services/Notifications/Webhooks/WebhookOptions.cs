using System.ComponentModel.DataAnnotations;

namespace Platform.Notifications.Webhooks;

/// <summary>Outgoing webhooks (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>
    /// Receivers on loopback (<c>127.0.0.0/8</c>, <c>::1</c>), also over plain http: off in production, on in tests that
    /// run a local receiver. Private, link-local and metadata addresses are refused whatever this says.
    /// </summary>
    public bool AllowLoopback { get; set; }

    /// <summary>A delivery is retried this long after its first attempt, then marked failed (and its webhook disabled).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The wait after the first failure; it doubles with each further one, up to <see cref="MaxBackoff"/>, with jitter.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A receiver must answer within this (connect, send, status line).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most this much of a receiver's answer is read (kept as the delivery's error when it is not a 2xx).</summary>
    [Range(0, 65_536)]
    public int MaxResponseBytes { get; set; } = 1024;

    /// <summary>After a rotation, deliveries carry a signature with the old secret too for this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan SecretGracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// A delivery waits until every earlier event of its conversation has been consumed (by any replica), so that replicas
    /// consuming one conversation's events at once still send them in order. An earlier event still missing after this
    /// long (parked after failing every retry) no longer holds the later ones.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan OrderWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the queue is looked at when nothing woke it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries in flight at once per replica (each to a different webhook and conversation).</summary>
    [Range(1, 256)]
    public int Concurrency { get; set; } = 8;

    /// <summary>Delivered and failed deliveries stay in the log this long.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan LogRetention { get; set; } = TimeSpan.FromDays(7);

    [Range(1, 1000)]
    public int MaxPerConversation { get; set; } = 20;

    public string UserAgent { get; set; } = "PlatformWebhooks/1.0";
}
