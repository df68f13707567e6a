namespace Platform.Contracts.Messaging;

/// <summary>
/// One page of Messaging's service-only feed of the whole conversation log (<c>GET /internal/v1/conversation-events</c>),
/// in the order of the store's global position: what a service that derives state from conversation events reads to
/// rebuild it. Positions grow but may have gaps; page with <c>after</c> = <see cref="Next"/> until it is null.
/// </summary>
public sealed record ConversationLogPage
{
    public required IReadOnlyList<ConversationLogEntry> Items { get; init; }

    /// <summary>The position to continue after; null when this page reached <see cref="Head"/>.</summary>
    public long? Next { get; init; }

    /// <summary>The log's newest position when the page was read.</summary>
    public required long Head { get; init; }
}

/// <summary>One event of the feed: its global position and the same envelope the bus carries.</summary>
public sealed record ConversationLogEntry
{
    public required long Position { get; init; }

    public required ConversationEvent Event { get; init; }
}

/// <summary>The scope a service's client-credentials token needs to read the feed; users' clients cannot ask for it.</summary>
public static class ConversationLogFeed
{
    public const string Scope = "conversation-log";

    public const string Path = "/internal/v1/conversation-events";
}

/// <summary>
/// Response headers of a page of one conversation's log (<c>GET /api/v1/conversations/{id}/events</c>) that the Gateway
/// relies on.
/// </summary>
public static class ConversationLogHeaders
{
    /// <summary>
    /// <c>true</c> when the page is exactly what every active member of the conversation would read from the same
    /// position (nothing in it depends on who reads: no edited message, whose earlier versions only some may see, and
    /// a reader who has not left): the Gateway hands one such read to every connection replaying from there.
    /// </summary>
    public const string SameForEveryMember = "Platform-Same-For-Every-Member";
}
