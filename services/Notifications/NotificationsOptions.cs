using System.ComponentModel.DataAnnotations;

namespace Platform.Notifications;

public sealed class NotificationsOptions
{
    public const string Section = "Notifications";

    /// <summary>Groups up to this size notify every message by default; larger ones, and channels, only mentions.</summary>
    [Range(2, 100_000)]
    public int LargeGroup { get; set; } = 20;

    /// <summary>How long a push to an offline user waits for more notifications of the same conversation to join it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan CoalesceWindow { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>A user with a live connection is pushed only if the notification is still unread after this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan UnreadDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>While a user is in do-not-disturb, pushes wait and are looked at again this often.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan DoNotDisturbRecheck { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a batch of conversation events waits, after its first event, for more (at most 50 events): the busier the
    /// bus, the more events share one read of their documents, one transaction and one announcement. 50 ms: at 150
    /// messages/s Notifications used 29-39% less CPU than with 10 ms (BENCHMARKS.md), and a notification 50 ms later
    /// goes unnoticed beside the message itself, which the Gateways deliver without waiting for it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan EventBatchWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Attempts at a push that fails with 429 or 5xx (exponential backoff, honouring Retry-After) before it is dropped.</summary>
    [Range(1, 50)]
    public int MaxPushAttempts { get; set; } = 6;

    public PushOptions Push { get; set; } = new();

    public InviteOptions Invites { get; set; } = new();
}

public sealed class PushOptions
{
    /// <summary>VAPID key pair (base64url: the 65-byte public point, the 32-byte private scalar). Unset: generated once and stored.</summary>
    public string? VapidPublicKey { get; set; }

    public string? VapidPrivateKey { get; set; }

    /// <summary>The contact push services see (RFC 8292): a <c>mailto:</c> or <c>https:</c> URI.</summary>
    public string VapidSubject { get; set; } = "mailto:push@platform.invalid";

    /// <summary>
    /// Endpoint prefixes accepted although not public https (e.g. <c>http://127.0.0.1:8089/</c> for a local receiver).
    /// Everything else must be https to a public address.
    /// </summary>
    public string[] AllowedEndpointPrefixes { get; set; } = [];

    [Range(0, 2_419_200)]
    public int TimeToLiveSeconds { get; set; } = 86_400;

    public ApnsOptions Apns { get; set; } = new();

    public FcmOptions Fcm { get; set; } = new();
}

/// <summary>Apple Push Notification service with a token-based (.p8) provider key.</summary>
public sealed class ApnsOptions
{
    public bool Enabled { get; set; }
    public string? KeyId { get; set; }
    public string? TeamId { get; set; }
    public string? BundleId { get; set; }

    /// <summary>The .p8 key's PEM text.</summary>
    public string? PrivateKeyPem { get; set; }

    /// <summary>false: the sandbox (development builds).</summary>
    public bool Production { get; set; } = true;
}

/// <summary>Firebase Cloud Messaging HTTP v1 with a service account.</summary>
public sealed class FcmOptions
{
    public bool Enabled { get; set; }
    public string? ProjectId { get; set; }
    public string? ClientEmail { get; set; }

    /// <summary>The service account's private key (PEM).</summary>
    public string? PrivateKeyPem { get; set; }
    public string TokenUri { get; set; } = "https://oauth2.googleapis.com/token";
    public string Endpoint { get; set; } = "https://fcm.googleapis.com";
}

public sealed class InviteOptions
{
    /// <summary>The page the invitee opens; the invite token is appended as <c>?invite=</c>.</summary>
    public string LinkBaseUrl { get; set; } = "http://localhost:5080/invite";

    public SmtpOptions Smtp { get; set; } = new();

    public SmsOptions Sms { get; set; } = new();
}

public sealed class SmtpOptions
{
    /// <summary>Unset: invite emails are not sent (logged as undeliverable).</summary>
    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 587;

    /// <summary><c>auto</c>, <c>none</c>, <c>starttls</c> or <c>tls</c>.</summary>
    public string Security { get; set; } = "auto";
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string From { get; set; } = "Platform <no-reply@platform.invalid>";
}

/// <summary>An SMS gateway reached by an HTTP POST of <c>{to, text}</c> (most providers, or a small adapter in front of one).</summary>
public sealed class SmsOptions
{
    public string? Url { get; set; }
    public string? Authorization { get; set; }
}
