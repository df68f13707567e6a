using System.ComponentModel.DataAnnotations;

namespace Platform.Messaging;

public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    [Range(1, 100_000)]
    public int MaxTextLength { get; set; } = 4000;

    [Range(2, 100_000)]
    public int MaxGroupMembers { get; set; } = 1000;

    [Range(2, 10_000_000)]
    public int MaxChannelMembers { get; set; } = 100_000;

    [Range(0, 100)]
    public int MaxAttachments { get; set; } = 10;

    [Range(1, 100)]
    public int MaxTitleLength { get; set; } = 100;

    [Range(1, 5000)]
    public int MaxTopicLength { get; set; } = 1000;

    [Range(1, 100_000)]
    public int MaxRetentionDays { get; set; } = 36_500;

    [Range(1, 1000)]
    public int DefaultPageSize { get; set; } = 50;

    [Range(1, 5000)]
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>Unread and mention counts stop at this number ("999+"), so the inbox costs the same whatever the backlog.</summary>
    [Range(1, 100_000)]
    public int UnreadCountCap { get; set; } = 999;

    /// <summary>Scheduled messages one user may have waiting, across conversations.</summary>
    [Range(1, 10_000)]
    public int MaxScheduledMessages { get; set; } = 100;

    /// <summary>How far ahead a message may be scheduled.</summary>
    public TimeSpan MaxScheduleAhead { get; set; } = TimeSpan.FromDays(365);

    /// <summary>
    /// Write transactions one instance runs at once. Writes that arrive while all are busy wait and go together into
    /// the next (group commit, across conversations): fewer makes larger transactions (less work per write under load),
    /// more lets more writes go alone at once.
    /// </summary>
    [Range(1, 64)]
    public int WriteTransactions { get; set; } = 2;

    /// <summary>How often each instance looks for scheduled messages that are due (their lateness at most).</summary>
    public TimeSpan ScheduledSendInterval { get; set; } = TimeSpan.FromSeconds(2);
}
