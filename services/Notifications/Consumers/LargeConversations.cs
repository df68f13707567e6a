using System.Collections.Concurrent;
using Marten;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Consumers;

/// <summary>
/// The documents of the large conversations (more members than <see cref="NotificationsOptions.LargeGroup"/>), kept in
/// memory between their messages. Such a document holds every member: at 1,000 members, loading it for each message
/// was the largest statement PostgreSQL ran for a message in that room (1.2 ms of its time, pg_stat_statements), and its
/// JSON the largest thing Notifications read. A kept document is used only while its stored version (<c>mt_version</c>,
/// changed by every join, leave, role or title change, whichever replica made it) is still the one it was read at, so a
/// replica never notifies from a membership another replica has changed; checking costs one small query.
/// </summary>
public sealed class LargeConversations
{
    /// <summary>Documents kept at most (each about 100 bytes per member); past that, they are all let go.</summary>
    public const int Capacity = 200;

    private readonly ConcurrentDictionary<Guid, Kept?> _known = new();

    private sealed record Kept(Guid Version, ConversationInfo Conversation);

    /// <summary>Whether the conversation was seen large, so its version is worth checking before its document is loaded.</summary>
    public bool IsLarge(Guid conversationId) => _known.ContainsKey(conversationId);

    /// <summary>The stored version of the conversation's document, or null when there is none.</summary>
    public static async Task<Guid?> VersionAsync(IQuerySession session, Guid conversationId, CancellationToken cancellationToken)
    {
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var versions = await session.QueryAsync<Guid>($"select mt_version from {schema}.mt_doc_conversation where id = ?", cancellationToken, conversationId);
        return versions.Count == 0 ? null : versions[0];
    }

    /// <summary>The document kept at <paramref name="version"/>, or null.</summary>
    public ConversationInfo? Get(Guid conversationId, Guid version) =>
        _known.TryGetValue(conversationId, out var kept) && kept is not null && kept.Version == version ? kept.Conversation : null;

    /// <summary>
    /// A document just loaded: a large one is kept at <paramref name="versionBefore"/>, the version read before it was
    /// loaded (never after: a change in between must make the next check miss), or marked large for the next message
    /// when no version was read first.
    /// </summary>
    public void Loaded(ConversationInfo conversation, int largeGroup, Guid? versionBefore)
    {
        if (conversation.Members.Count <= largeGroup)
        {
            _known.TryRemove(conversation.Id, out _);
            return;
        }
        if (_known.Count >= Capacity && !_known.ContainsKey(conversation.Id))
            _known.Clear();
        _known[conversation.Id] = versionBefore is { } version ? new Kept(version, conversation) : null;
    }
}
