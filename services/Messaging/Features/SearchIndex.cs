using Marten;
using Npgsql;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>
/// The search index: <c>messaging.message_search</c>, one narrow row per searchable message (id, conversation, sender,
/// time, and the stored <c>tsvector</c> of its current text, <c>english</c> stemmed and <c>simple</c> word for word),
/// GIN-indexed. A trigger on the message read model (<c>mt_doc_message</c>) writes it in the same statement, so in the
/// same transaction, as every write of a message: posting, edits, deletes, retention and account erasure (a deleted
/// message's row is removed, so erased text never matches), and the benchmark's bulk COPY too. Searching reads the
/// stored vector: nothing is computed again per matching row.
/// <para>
/// Marten owns the document table but not this one; created as the service starts (idempotently, under an advisory lock
/// so that instances starting together take turns), with the rows of messages stored before it existed. Without
/// PostgreSQL the service still starts (unready) and the creation is retried until it succeeds; searches wait for it.
/// </para>
/// </summary>
public sealed class SearchIndex(IDocumentStore store, NpgsqlDataSource dataSource, ILogger<SearchIndex> logger) : BackgroundService
{
    public const string Table = "message_search";
    public const string VectorIndex = "message_search_idx_vector";

    private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether the index exists, waiting for it at most <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _created.Task.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await CreateAsync(stoppingToken);
                _created.TrySetResult();
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Creating the search index failed (attempt {Attempt}); retrying", attempt);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task CreateAsync(CancellationToken cancellationToken)
    {
        await store.Storage.Database.EnsureStorageExistsAsync(typeof(MessageView), cancellationToken);
        const string schema = MessagingServiceExtensions.Schema;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, "select pg_advisory_xact_lock(hashtext('messaging.message_search'))", cancellationToken);
        await using (var exists = new NpgsqlCommand($"select to_regclass('{schema}.{Table}') is not null", connection))
        {
            var existed = (bool)(await exists.ExecuteScalarAsync(cancellationToken))!;
            await Execute(connection, $"""
                create table if not exists {schema}.{Table} (
                  id uuid primary key,
                  conversation_id uuid not null,
                  sender_id uuid not null,
                  created_at timestamptz not null,
                  vector tsvector not null);
                create index if not exists {VectorIndex} on {schema}.{Table} using gin (vector);
                create index if not exists message_search_idx_created on {schema}.{Table} (created_at desc);
                create index if not exists message_search_idx_conversation_created on {schema}.{Table} (conversation_id, created_at desc);
                create or replace function {schema}.message_search_write() returns trigger language plpgsql as $$
                begin
                  if tg_op = 'DELETE' or (new.data ->> 'deleted')::boolean or coalesce(new.data ->> 'text', '') = '' then
                    delete from {schema}.{Table} where id = coalesce(old.id, new.id);
                    return null;
                  end if;
                  insert into {schema}.{Table} (id, conversation_id, sender_id, created_at, vector)
                  values (new.id, new.conversation_id, (new.data ->> 'senderId')::uuid, (new.data ->> 'createdAt')::timestamptz,
                    {Vector("new.data ->> 'text'")})
                  on conflict (id) do update set vector = excluded.vector;
                  return null;
                end $$;
                create or replace trigger message_search_insert after insert on {schema}.mt_doc_message
                  for each row execute function {schema}.message_search_write();
                create or replace trigger message_search_update after update on {schema}.mt_doc_message
                  for each row when ((old.data ->> 'text') is distinct from (new.data ->> 'text') or (old.data ->> 'deleted') is distinct from (new.data ->> 'deleted'))
                  execute function {schema}.message_search_write();
                create or replace trigger message_search_delete after delete on {schema}.mt_doc_message
                  for each row execute function {schema}.message_search_write();
                """, cancellationToken);
            if (!existed)
            {
                var rows = await Execute(connection, $"""
                    insert into {schema}.{Table} (id, conversation_id, sender_id, created_at, vector)
                    select id, conversation_id, (data ->> 'senderId')::uuid, (data ->> 'createdAt')::timestamptz, {Vector("data ->> 'text'")}
                    from {schema}.mt_doc_message
                    where not (data ->> 'deleted')::boolean and coalesce(data ->> 'text', '') <> ''
                    on conflict (id) do nothing
                    """, cancellationToken);
                logger.LogInformation("Search index created with {Rows} messages", rows);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The stored vector of a text: stemmed English words, then every word as written (any language, stop words too).</summary>
    public static string Vector(string text) => $"(to_tsvector('english'::regconfig, {text}) || to_tsvector('simple'::regconfig, {text}))";

    private static async Task<int> Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

}
