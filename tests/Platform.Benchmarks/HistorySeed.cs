using Marten;
using Npgsql;
using Platform.Messaging;
using Platform.Messaging.Domain;
using Weasel.Core;

namespace Platform.Benchmarks;

/// <summary>
/// Grows a conversation's log fast, for the history scenario: the messages one sender would post, written with
/// Messaging's own document store configuration (<see cref="MessagingServiceExtensions.ConfigureStore"/>) and its
/// own read-model functions, in batches of thousands instead of one transaction per send. Each batch writes the
/// <see cref="MessageView"/> and <see cref="ClientMessageKey"/> documents of its messages, then appends the
/// <see cref="MessagePosted"/> events to the stream with the expected version and stores the
/// <see cref="ConversationView"/> (<c>LastSeq</c> equal to the new stream version) and the sender's membership cursors:
/// the rows the sends would have written. No outbox entries: seeded events are not published, only the log's size
/// matters here.
/// </summary>
internal sealed class HistorySeed(DocumentStore store, string connectionString) : IAsyncDisposable
{
    // Messages per batch: their events and two documents each.
    private const int Batch = 5000;

    private static readonly string[] Tables =
        ["mt_events", "mt_streams", "mt_doc_message", "mt_doc_client_message_key", "mt_doc_conversation", "mt_doc_membership"];

    private long _posted;

    public static HistorySeed Open(string connectionString) => new(DocumentStore.For(options =>
    {
        MessagingServiceExtensions.ConfigureStore(options);
        options.Connection(connectionString);
    }), connectionString);

    /// <summary>Posts messages from <paramref name="senderId"/> until the conversation's last seq is <paramref name="lastSeq"/>.</summary>
    public Task GrowAsync(Guid conversationId, Guid senderId, long lastSeq, string text)
    {
        text = MessageText.Normalize(text);
        var urls = MessageText.Urls(text);
        return GrowAsync(conversationId, senderId, lastSeq, _ => (text, urls));
    }

    /// <summary>Same, each message with the text <paramref name="textOf"/> gives for its seq (normalised, with its URLs).</summary>
    public async Task GrowAsync(Guid conversationId, Guid senderId, long lastSeq, Func<long, (string Text, IReadOnlyList<string> Urls)> textOf)
    {
        while (true)
        {
            await using var session = store.LightweightSession();
            var conversation = await session.LoadAsync<ConversationView>(conversationId)
                ?? throw new InvalidOperationException($"Conversation {conversationId} not found.");
            var sender = await session.LoadAsync<Membership>(Membership.KeyOf(conversationId, senderId))
                ?? throw new InvalidOperationException($"{senderId} is not a member of {conversationId}.");
            var count = (int)Math.Min(Batch, lastSeq - conversation.LastSeq);
            if (count <= 0)
                return;

            var events = new object[count];
            var documents = new List<object>(2 * count);
            for (var i = 0; i < count; i++)
            {
                var seq = conversation.LastSeq + 1;
                var (text, urls) = textOf(seq);
                var posted = new MessagePosted(Guid.CreateVersion7(), $"seed-{++_posted}", senderId, text, [], urls, null, [], DateTimeOffset.UtcNow);
                events[i] = posted;
                documents.Add(MessageView.Create(conversationId, seq, posted));
                documents.Add(new ClientMessageKey { Id = ClientMessageKey.KeyOf(conversationId, senderId, posted.ClientMessageId), MessageId = posted.MessageId });
                conversation = conversation.Apply(seq, posted);
            }
            // The messages' documents first, with Marten's bulk COPY (the rows its upserts write, a third of the time);
            // the unique (conversation_id, seq) index refuses a batch seeded twice.
            await store.BulkInsertDocumentsAsync(documents, BulkInsertMode.InsertsOnly, Batch * 2);
            // Then the events with the stream's expected version after them, the conversation (LastSeq equal to that
            // version) and the sender's cursors, in one transaction.
            session.Events.Append(conversationId, conversation.LastSeq, events);
            session.Store(conversation);
            session.Store(sender with { DeliveredSeq = conversation.LastSeq, ReadSeq = conversation.LastSeq });
            await session.SaveChangesAsync();
        }
    }

    /// <summary>
    /// Statistics as autovacuum would have them in production after such growth: <c>VACUUM (ANALYZE)</c> of the tables
    /// written (the planner's row estimates, and the visibility map that index-only scans use).
    /// </summary>
    public async Task AnalyzeAsync()
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"vacuum (analyze) {string.Join(", ", Tables.Select(t => $"{MessagingServiceExtensions.Schema}.{t}"))}", connection)
        { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>On-disk size (table, indexes and TOAST) of the events table and of the messages' documents, in MiB.</summary>
    public async Task<(double EventsMiB, double MessagesMiB)> SizesAsync()
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select pg_total_relation_size('{MessagingServiceExtensions.Schema}.mt_events'), pg_total_relation_size('{MessagingServiceExtensions.Schema}.mt_doc_message')", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0) / 1048576.0, reader.GetInt64(1) / 1048576.0);
    }

    public ValueTask DisposeAsync() => store.DisposeAsync();
}
