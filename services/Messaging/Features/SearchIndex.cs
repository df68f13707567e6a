using Marten;
using Npgsql;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>
/// The search index: <c>messaging.message_search</c>, one narrow row per searchable message (id, conversation, sender,
/// time, and the stored <c>tsvector</c> of its current text, <c>english</c> stemmed and <c>simple</c> word for word,
/// plus its word pairs), GIN-indexed. A word pair is a lexeme <c>"a b"</c> (two lexemes and a space, which no parsed
/// lexeme holds) for every two lexemes at adjacent positions of either reading: GIN keeps no positions, so a phrase
/// <c>"a b"</c> of two frequent words would otherwise recheck every row holding both words; with the pairs the index
/// finds the rows holding the phrase's pair, nearly all of them true matches (<see cref="Search"/>). A trigger on the message read model (<c>mt_doc_message</c>) writes it in the same statement, so in the
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

    /// <summary>
    /// What the stored vectors hold, kept as the table's comment: the rows of an older layout are rewritten in the
    /// background (in batches, while search answers without the pairs), then the comment says this.
    /// </summary>
    public const string Layout = "message_search v2: english || simple || word pairs";

    /// <summary>A word pair longer than this (in UTF-8 bytes) is not stored: PostgreSQL's limit for one lexeme.</summary>
    public const int MaxPairBytes = 2046;

    private const int RewriteBatch = 2000;
    private volatile bool _pairsReady;

    /// <summary>Whether every stored vector holds its word pairs (so a phrase may be looked up by them).</summary>
    public bool PairsReady => _pairsReady;

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
                await RewriteOlderLayoutAsync(stoppingToken);
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
                create or replace function {schema}.message_search_pairs(v tsvector) returns tsvector
                  language plpgsql immutable parallel safe as $$
                  declare
                    words text[];
                    r record;
                    p int;
                    pairs text[] := array[]::text[];
                  begin
                    -- The lexeme at each position (english and simple give one per position), then each adjacent two.
                    for r in select lexeme, positions from unnest(v) loop
                      foreach p in array r.positions loop
                        words[p] := r.lexeme;
                      end loop;
                    end loop;
                    if words is null then
                      return ''::tsvector;
                    end if;
                    for p in array_lower(words, 1) .. array_upper(words, 1) - 1 loop
                      if words[p] is not null and words[p + 1] is not null
                         and octet_length(words[p]) + octet_length(words[p + 1]) + 1 <= {MaxPairBytes} then
                        pairs := pairs || (words[p] || ' ' || words[p + 1]);
                      end if;
                    end loop;
                    return array_to_tsvector(pairs);
                  end $$;
                create or replace function {schema}.message_search_vector(t text) returns tsvector
                  language sql immutable parallel safe as $$
                  select e || s || {schema}.message_search_pairs(e) || {schema}.message_search_pairs(s)
                  from (select to_tsvector('english'::regconfig, t) as e, to_tsvector('simple'::regconfig, t) as s) v $$;
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
                await Execute(connection, $"comment on table {schema}.{Table} is '{Layout}'", cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The stored vector of a text: stemmed English words, then every word as written (any language, stop words too), then
    /// the word pairs of both.
    /// </summary>
    public static string Vector(string text) => $"{MessagingServiceExtensions.Schema}.message_search_vector({text})";

    /// <summary>
    /// Rows stored by an older layout (before word pairs) get their vector again, in batches of a few thousand, each its
    /// own short transaction that holds the batch's messages (<c>for share</c>) so that an edit or erasure in between
    /// waits and then rewrites the row itself: no older text comes back. New writes already go through the new
    /// trigger. Instances starting together take turns on an advisory lock; the last step records the layout.
    /// </summary>
    public async Task RewriteOlderLayoutAsync(CancellationToken cancellationToken)
    {
        const string schema = MessagingServiceExtensions.Schema;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                if (await LayoutAsync(connection, cancellationToken) == Layout)
                {
                    _pairsReady = true;
                    return;
                }
                await Execute(connection, "select pg_advisory_lock(hashtext('messaging.message_search.layout'))", cancellationToken);
                try
                {
                    if (await LayoutAsync(connection, cancellationToken) != Layout)
                    {
                        var rewritten = 0L;
                        var after = Guid.Empty;
                        while (true)
                        {
                            await using var batch = new NpgsqlCommand($"""
                                with keys as (select s.id from {schema}.{Table} s where s.id > $1 order by s.id limit {RewriteBatch}),
                                source as (
                                  select x.id, x.data ->> 'text' as text from {schema}.mt_doc_message x
                                  where x.id in (select id from keys)
                                  for share),
                                rewritten as (
                                  update {schema}.{Table} s set vector = {Vector("source.text")}
                                  from source where s.id = source.id returning s.id)
                                select (select id from keys order by id desc limit 1), (select count(*) from rewritten)
                                """, connection) { CommandTimeout = 0 };
                            batch.Parameters.Add(new NpgsqlParameter { Value = after });
                            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                            await reader.ReadAsync(cancellationToken);
                            if (reader.IsDBNull(0))
                                break;
                            after = reader.GetGuid(0);
                            rewritten += reader.GetInt64(1);
                        }
                        await Execute(connection, $"comment on table {schema}.{Table} is '{Layout}'", cancellationToken);
                        logger.LogInformation("Search index: {Rows} stored vectors rewritten with word pairs", rewritten);
                    }
                }
                finally
                {
                    try
                    {
                        await Execute(connection, "select pg_advisory_unlock(hashtext('messaging.message_search.layout'))", CancellationToken.None);
                    }
                    catch (Exception exception)
                    {
                        // Pooled connections are not reset on return here (Postgres.AddPlatformPostgres): one still holding
                        // the session lock must be closed, not reused; closing the session releases the lock.
                        logger.LogWarning(exception, "Releasing the search index's layout lock failed; its connection is closed instead");
                        NpgsqlConnection.ClearPool(connection);
                    }
                }
                _pairsReady = true;
                return;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Rewriting the search index's vectors failed (attempt {Attempt}); retrying", attempt);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<string?> LayoutAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"select obj_description(to_regclass('{MessagingServiceExtensions.Schema}.{Table}'), 'pg_class')", connection);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<int> Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

}
