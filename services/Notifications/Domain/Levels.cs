namespace Platform.Notifications.Domain;

public static class Levels
{
    public const string All = "all";
    public const string Mentions = "mentions";
    public const string None = "none";

    public static readonly IReadOnlySet<string> Valid = new HashSet<string> { All, Mentions, None };
}

public static class Kinds
{
    public const string Mention = "mention";
    public const string DirectMessage = "direct-message";
    public const string Reply = "reply";
    public const string Message = "message";
}

/// <summary>The facts of a posted message that decide who hears of it.</summary>
/// <param name="MassMention"><c>channel</c> (every member is mentioned) or <c>here</c> (every member online now), as Messaging allowed it.</param>
public sealed record PostedMessage(Guid MessageId, Guid ConversationId, long Seq, Guid SenderId, IReadOnlySet<Guid> Mentions, Guid? ReplyTo, string? MassMention = null,
    DateTimeOffset PostedAt = default);

/// <summary>Who is notified of a message, and why: the rules, free of storage.</summary>
public static class Recipients
{
    /// <param name="members">The conversation's members now.</param>
    /// <param name="threadParticipants">For a reply: the thread's root author and earlier repliers.</param>
    /// <param name="levelOf">The member's effective level for this conversation.</param>
    /// <param name="readSeqOf">How far the member has read the conversation.</param>
    /// <param name="online">For <c>@here</c>: whether the member is online now (Presence's last word).</param>
    public static IReadOnlyList<(Guid UserId, string Kind)> Decide(
        PostedMessage message, string conversationKind, IEnumerable<Guid> members, IReadOnlySet<Guid> threadParticipants,
        Func<Guid, string> levelOf, Func<Guid, long> readSeqOf, Func<Guid, bool>? online = null)
    {
        var notified = new List<(Guid, string)>();
        foreach (var member in members)
        {
            if (member == message.SenderId || readSeqOf(member) >= message.Seq)
                continue;
            // @channel and @here mention each member they reach: a member at "mentions" hears of it, one who muted the
            // conversation ("none") does not.
            var massMentioned = message.MassMention switch
            {
                "channel" => true,
                "here" => online?.Invoke(member) ?? false,
                _ => false,
            };
            var kind = message.Mentions.Contains(member) || massMentioned ? Kinds.Mention
                : conversationKind == "direct" ? Kinds.DirectMessage
                : message.ReplyTo is not null && threadParticipants.Contains(member) ? Kinds.Reply
                : Kinds.Message;
            var level = levelOf(member);
            var notify = level switch
            {
                Levels.All => true,
                // Mentions and replies in my threads come through; other messages do not.
                Levels.Mentions => kind is Kinds.Mention or Kinds.Reply or Kinds.DirectMessage,
                _ => false,
            };
            if (notify)
                notified.Add((member, kind));
        }
        return notified;
    }

    /// <summary>The level of a conversation for a user: theirs for it (unless its mute ran out), their default, or by kind and size.</summary>
    public static string LevelOf(Preferences? preferences, Guid conversationId, string conversationKind, int memberCount, int largeGroup, DateTimeOffset now)
    {
        var own = preferences?.Conversations.FirstOrDefault(c => c.ConversationId == conversationId);
        if (own is not null && !(own.MutedUntil is { } until && until <= now))
            return own.Level;
        if (preferences?.Default is { } level)
            return level;
        return conversationKind == "direct" || (conversationKind == "group" && memberCount <= largeGroup) ? Levels.All : Levels.Mentions;
    }
}

/// <summary>Quiet hours: whether now is within them, and when they end.</summary>
public static class Quiet
{
    public static bool TryParse(string value, out TimeOnly time) =>
        TimeOnly.TryParseExact(value, "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out time);

    /// <summary>When the quiet hours around <paramref name="now"/> end, or null when <paramref name="now"/> is not within them.</summary>
    public static DateTimeOffset? EndOf(QuietHours? quiet, DateTimeOffset now)
    {
        if (quiet is null || !TryParse(quiet.Start, out var start) || !TryParse(quiet.End, out var end) || start == end
            || !TimeZoneInfo.TryFindSystemTimeZoneById(quiet.TimeZone, out var zone))
            return null;
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var time = TimeOnly.FromDateTime(local.DateTime);
        var within = start < end ? time >= start && time < end : time >= start || time < end;
        if (!within)
            return null;
        var endDate = DateOnly.FromDateTime(local.DateTime);
        if (time >= end)
            endDate = endDate.AddDays(1);
        var endLocal = endDate.ToDateTime(end);
        // A wall-clock time that does not exist (the clocks jumped forward) ends the quiet hours an hour later.
        while (zone.IsInvalidTime(endLocal))
            endLocal = endLocal.AddHours(1);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(endLocal, zone), TimeSpan.Zero);
    }
}
