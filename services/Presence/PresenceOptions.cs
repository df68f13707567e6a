using System.ComponentModel.DataAnnotations;

namespace Platform.Presence;

public sealed class PresenceOptions
{
    public const string Section = "Presence";

    /// <summary>The most user ids one request (or one connection's watch list) may name.</summary>
    public const int MaxUserIds = 500;

    /// <summary>How long a user stays online after their last connection closed, so a reload or a blip does not flap.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan OfflineGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A Gateway instance silent for this long has died, with all its connections.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan InstanceTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often due transitions (grace over, instance dead, status expired) are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Activity closer than this to the stored last-active time is not written again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ActivityThrottle { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a closed connection is remembered, so a late duplicate of its opening cannot revive it.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan ConnectionMemory { get; set; } = TimeSpan.FromDays(1);

    [Range(1, 1000)]
    public int StatusTextMaxLength { get; set; } = 100;
}
