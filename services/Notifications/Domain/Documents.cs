namespace Platform.Notifications.Domain;

/// <summary>One entry of a user's in-app feed. Deleted messages leave no text behind (<see cref="Deleted"/>, body cleared).</summary>
public sealed class Notification
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }

    /// <summary><c>mention</c>, <c>direct-message</c>, <c>reply</c> or <c>message</c>.</summary>
    public string Kind { get; set; } = "";
    public Guid? ConversationId { get; set; }
    public long? Seq { get; set; }
    public Guid? MessageId { get; set; }
    public Guid? ActorId { get; set; }
    public string Title { get; set; } = "";
    public string? Body { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ReadAt { get; set; }
    public bool Deleted { get; set; }
    public DateTimeOffset? PushedAt { get; set; }

    /// <summary>The push that showed it was withdrawn from the user's devices (everything it showed was read or deleted).</summary>
    public bool PushWithdrawn { get; set; }
}

/// <summary>Marks an event as handled, written in the same transaction as its effects: a redelivery finds it and does nothing.</summary>
public sealed class ProcessedEvent
{
    public string Id { get; set; } = "";
    public DateTimeOffset At { get; set; }

    /// <summary>Conversation events are marked by (conversation, seq).</summary>
    public static string KeyOf(Guid conversationId, long seq) => $"{conversationId:N}:{seq}";
}

/// <summary>Where the backfill from Messaging's log stands (one document).</summary>
public sealed class BackfillCheckpoint
{
    public const string ConversationLog = "conversation-log";

    public string Id { get; set; } = ConversationLog;
    public long Position { get; set; }
}

/// <summary>What Notifications knows of a conversation, from its events.</summary>
public sealed class ConversationInfo
{
    public Guid Id { get; set; }
    public string Kind { get; set; } = "group";
    public string? Title { get; set; }
    public long TitleSeq { get; set; }

    /// <summary>Per user: the seq of their last join or leave, and whether they are a member now.</summary>
    public Dictionary<Guid, MemberState> Members { get; set; } = [];

    public IEnumerable<Guid> ActiveMembers => Members.Where(m => m.Value.Active).Select(m => m.Key);
}

/// <param name="Role">member, admin or owner as the conversation's events said (null in documents written before roles were kept).</param>
public sealed record MemberState(long Seq, bool Active, string? Role = null)
{
    public bool Manages => Active && Role is "admin" or "owner";
}

/// <summary>A message's author and its thread's repliers, to notify thread participants.</summary>
public sealed class MessageRef
{
    public Guid Id { get; set; }
    public Guid ConversationId { get; set; }
    public Guid SenderId { get; set; }
    public List<Guid> Repliers { get; set; } = [];
    /// <summary>Who followed the thread themselves (Messaging's <c>ThreadFollowChanged</c>).</summary>
    public List<Guid> Followers { get; set; } = [];
    /// <summary>Who unfollowed it: no reply notification, even as its author or a replier.</summary>
    public List<Guid> Unfollowers { get; set; } = [];
    /// <summary>
    /// Per user, when the follow change applied last was made (by hand, or by replying): Messaging publishes each change
    /// at least once, and an earlier one published again (by its relay, after a broker outage) may arrive after a later one.
    /// </summary>
    public Dictionary<Guid, DateTimeOffset> FollowChangedAt { get; set; } = [];
}

/// <summary>How far a member has read a conversation (from Messaging's receipts).</summary>
public sealed class ReadCursor
{
    public string Id { get; set; } = "";
    public long ReadSeq { get; set; }

    public static string KeyOf(Guid userId, Guid conversationId) => $"{userId:N}:{conversationId:N}";
}

/// <summary>A user's presence as Presence last published it.</summary>
public sealed class UserPresence
{
    public Guid Id { get; set; }
    public bool Online { get; set; }
    public bool DoNotDisturb { get; set; }
    public long Version { get; set; }
}

public sealed class UserName
{
    public Guid Id { get; set; }
    public string DisplayName { get; set; } = "";

    /// <summary>The account was deleted: a tombstone that a late registration or profile event does not bring back.</summary>
    public bool Deleted { get; set; }
}

public sealed class Preferences
{
    public Guid Id { get; set; }

    /// <summary>The level for conversations without their own; unset means by kind (direct and small groups all, the rest mentions).</summary>
    public string? Default { get; set; }
    public List<ConversationPreference> Conversations { get; set; } = [];
    public QuietHours? QuietHours { get; set; }
}

public sealed record ConversationPreference(Guid ConversationId, string Level, DateTimeOffset? MutedUntil);

/// <summary>Daily quiet hours in the user's time zone, <c>HH:mm</c> to <c>HH:mm</c> (may span midnight).</summary>
public sealed record QuietHours(string Start, string End, string TimeZone);

/// <summary>A device's push subscription: Web Push (endpoint and keys) or a native token (APNs, FCM).</summary>
public sealed class PushSubscriptionDoc
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }

    /// <summary><c>web</c>, <c>apns</c> or <c>fcm</c>.</summary>
    public string Platform { get; set; } = "web";

    /// <summary>The Web Push endpoint, or the native device token.</summary>
    public string Endpoint { get; set; } = "";
    public string? P256dh { get; set; }
    public string? Auth { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A push waiting to go to one user about one conversation: notifications that arrive meanwhile join it, so a burst
/// becomes one push ("5 new messages in #general"). Claimed by one replica at a time (optimistic concurrency).
/// </summary>
public sealed class PendingPush
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid? ConversationId { get; set; }
    public List<Guid> NotificationIds { get; set; } = [];
    public DateTimeOffset FirstAt { get; set; }
    public DateTimeOffset DueAt { get; set; }
    public DateTimeOffset? ClaimedUntil { get; set; }
    public int Attempts { get; set; }

    /// <summary>Set after a partial failure: only these subscriptions are tried again.</summary>
    public List<Guid>? RetrySubscriptionIds { get; set; }

    /// <summary>
    /// Not a new push but a correction of the one the devices show for the conversation (same topic / collapse id / tag):
    /// its text after an edit or delete, or its withdrawal once nothing it showed is unread.
    /// </summary>
    public bool Correction { get; set; }
}

/// <summary>The VAPID key pair, generated once and shared by every replica when none is configured.</summary>
public sealed class VapidKeys
{
    public string Id { get; set; } = "vapid";
    public string PublicKey { get; set; } = "";
    public string PrivateKey { get; set; } = "";
}
