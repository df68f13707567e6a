using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Platform.Notifications.Webhooks;

/// <summary>A registered webhook; its secrets as Data Protection protected them.</summary>
public sealed record Webhook(
    Guid Id, Guid OwnerId, Guid? ConversationId, string Url, string[] Events, string ProtectedSecret,
    string? ProtectedPreviousSecret, DateTimeOffset? PreviousSecretUntil, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt, string? DisabledReason);

/// <summary>One event for one webhook, queued, delivered or failed.</summary>
public sealed record Delivery(
    long Id, Guid WebhookId, Guid ConversationId, long Seq, Guid EventId, string Type, string Status, int Attempts,
    int? LastStatusCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt);

public static class DeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
}

/// <summary>
/// Webhooks and their delivery queue: plain tables in schema <c>notifications</c>, created idempotently (one replica at
/// a time) before first use. The queue is a table so that it survives restarts and replicas share it: a delivery is
/// claimed with <c>FOR UPDATE SKIP LOCKED</c> for as long as it is being sent.
/// </summary>
public sealed class WebhookStore(NpgsqlDataSource dataSource)
{
    private const string Ddl = $"""
        SELECT pg_advisory_xact_lock(7242623);
        CREATE SCHEMA IF NOT EXISTS {NotificationsServiceExtensions.Schema};
        CREATE TABLE IF NOT EXISTS notifications.webhooks (
            id                    uuid PRIMARY KEY,
            owner_id              uuid NOT NULL,
            conversation_id       uuid,
            url                   text NOT NULL,
            events                text[] NOT NULL,
            secret                text NOT NULL,
            previous_secret       text,
            previous_secret_until timestamptz,
            created_at            timestamptz NOT NULL,
            disabled_at           timestamptz,
            disabled_reason       text);
        CREATE INDEX IF NOT EXISTS webhooks_conversation ON notifications.webhooks (conversation_id);
        CREATE INDEX IF NOT EXISTS webhooks_owner ON notifications.webhooks (owner_id);

        CREATE TABLE IF NOT EXISTS notifications.webhook_deliveries (
            id              bigserial PRIMARY KEY,
            webhook_id      uuid NOT NULL REFERENCES notifications.webhooks (id) ON DELETE CASCADE,
            conversation_id uuid NOT NULL,
            seq             bigint NOT NULL,
            event_id        uuid NOT NULL,
            type            text NOT NULL,
            message_id      uuid,
            actor_id        uuid NOT NULL,
            body            text NOT NULL,
            status          text NOT NULL,
            attempts        integer NOT NULL DEFAULT 0,
            last_status_code integer,
            last_error      text,
            created_at      timestamptz NOT NULL,
            last_attempt_at timestamptz,
            next_attempt_at timestamptz,
            delivered_at    timestamptz,
            UNIQUE (webhook_id, event_id));
        CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON notifications.webhook_deliveries (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON notifications.webhook_deliveries (webhook_id, conversation_id, seq) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS webhook_deliveries_message ON notifications.webhook_deliveries (message_id) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS webhook_deliveries_actor ON notifications.webhook_deliveries (actor_id) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON notifications.webhook_deliveries (webhook_id, id);

        -- Which events of a conversation with webhooks have been consumed: every seq up to through_seq, and the seqs above
        -- it in webhook_consumed. A delivery is sent only once every earlier seq has been consumed (queued or skipped).
        CREATE TABLE IF NOT EXISTS notifications.webhook_progress (
            conversation_id uuid PRIMARY KEY,
            through_seq     bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS notifications.webhook_consumed (
            conversation_id uuid NOT NULL,
            seq             bigint NOT NULL,
            PRIMARY KEY (conversation_id, seq));
        CREATE TABLE IF NOT EXISTS notifications.webhook_owner_revocations (
            owner_id   uuid PRIMARY KEY,
            revoked_at timestamptz NOT NULL);
        """;

    // Registering a webhook for every conversation and taking its owner's admin role away take turns per owner.
    private const string OwnerTurn = "SELECT pg_advisory_xact_lock(hashtextextended('notifications.webhook-owner:' || $1::text, 0))";

    /// <summary>
    /// The highest seq of conversation <c>c</c> up to which every event has been consumed: <c>through_seq</c>, plus the
    /// run of consumed seqs that continues it without a gap.
    /// </summary>
    private static string ConsumedThrough(string conversation) => $"""
        (SELECT p.through_seq + (SELECT count(*) FROM (
                 SELECT k.seq, row_number() OVER (ORDER BY k.seq) AS n FROM notifications.webhook_consumed k
                 WHERE k.conversation_id = p.conversation_id AND k.seq > p.through_seq) run
             WHERE run.seq = p.through_seq + run.n)
         FROM notifications.webhook_progress p WHERE p.conversation_id = {conversation})
        """;

    private const string WebhookColumns =
        "id, owner_id, conversation_id, url, events, secret, previous_secret, previous_secret_until, created_at, disabled_at, disabled_reason";

    private const string DeliveryColumns =
        "id, webhook_id, conversation_id, seq, event_id, type, status, attempts, last_status_code, last_error, created_at, last_attempt_at, next_attempt_at, delivered_at";

    private readonly SemaphoreSlim _schemaLock = new(1, 1);
    private volatile bool _schemaReady;

    public NpgsqlDataSource DataSource => dataSource;

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady)
            return;
        await _schemaLock.WaitAsync(cancellationToken);
        try
        {
            if (_schemaReady)
                return;
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = new NpgsqlCommand(Ddl, connection, transaction))
                await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _schemaReady = true;
        }
        finally
        {
            _schemaLock.Release();
        }
    }

    public async Task InsertAsync(Webhook webhook, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand();
        Insert(command, webhook);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// A webhook for every conversation, unless its owner lost the platform admin role (or their account was disabled)
    /// at or after <paramref name="tokenIssuedAt"/>: a token that still says <c>admin</c> is refused here even before the
    /// session revocation reaches this service. Takes turns with <see cref="DisablePlatformWideOwnedByAsync"/>, so a
    /// registration is either refused or disabled with the others.
    /// </summary>
    public async Task<bool> InsertPlatformWideAsync(Webhook webhook, DateTimeOffset tokenIssuedAt, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var turn = new NpgsqlCommand(OwnerTurn, connection, transaction))
        {
            turn.Parameters.AddWithValue(webhook.OwnerId);
            await turn.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var revoked = new NpgsqlCommand(
            "SELECT 1 FROM notifications.webhook_owner_revocations WHERE owner_id = $1 AND revoked_at >= $2", connection, transaction))
        {
            revoked.Parameters.AddWithValue(webhook.OwnerId);
            revoked.Parameters.AddWithValue(tokenIssuedAt);
            if (await revoked.ExecuteScalarAsync(cancellationToken) is not null)
                return false;
        }
        await using (var insert = new NpgsqlCommand { Connection = connection, Transaction = transaction })
        {
            Insert(insert, webhook);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static void Insert(NpgsqlCommand command, Webhook webhook)
    {
        command.CommandText = $"INSERT INTO notifications.webhooks ({WebhookColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        command.Parameters.AddWithValue(webhook.Id);
        command.Parameters.AddWithValue(webhook.OwnerId);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhook.ConversationId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.AddWithValue(webhook.Url);
        command.Parameters.AddWithValue(webhook.Events);
        command.Parameters.AddWithValue(webhook.ProtectedSecret);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhook.ProtectedPreviousSecret ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhook.PreviousSecretUntil ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.AddWithValue(webhook.CreatedAt);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhook.DisabledAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhook.DisabledReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    public async Task<Webhook?> GetAsync(Guid id, CancellationToken cancellationToken) =>
        (await QueryWebhooksAsync("id = $1", [id], cancellationToken)).SingleOrDefault();

    public Task<List<Webhook>> ByOwnerAsync(Guid ownerId, CancellationToken cancellationToken) =>
        QueryWebhooksAsync("owner_id = $1 ORDER BY created_at", [ownerId], cancellationToken);

    public Task<List<Webhook>> ByConversationAsync(Guid conversationId, CancellationToken cancellationToken) =>
        QueryWebhooksAsync("conversation_id = $1 ORDER BY created_at", [conversationId], cancellationToken);

    /// <summary>
    /// The active webhooks that cover any of the conversations (their own and the platform-wide ones), whatever their
    /// events: one query for a batch of events.
    /// </summary>
    public Task<List<Webhook>> CoveringAsync(Guid[] conversationIds, CancellationToken cancellationToken) =>
        QueryWebhooksAsync("(conversation_id = ANY($1) OR conversation_id IS NULL) AND disabled_at IS NULL", [conversationIds], cancellationToken);

    /// <summary>
    /// Records that the conversation's event <paramref name="seq"/> has been consumed (after its deliveries were queued),
    /// and folds the gap-free run into <c>through_seq</c>. The first event recorded for a conversation starts it.
    /// </summary>
    public async Task RecordConsumedAsync(Guid conversationId, long seq, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                Step("INSERT INTO notifications.webhook_progress (conversation_id, through_seq) VALUES ($1, $2 - 1) ON CONFLICT DO NOTHING"),
                Step("""
                    INSERT INTO notifications.webhook_consumed (conversation_id, seq)
                    SELECT $1, $2 WHERE $2 > (SELECT through_seq FROM notifications.webhook_progress WHERE conversation_id = $1)
                    ON CONFLICT DO NOTHING
                    """),
                Step($"UPDATE notifications.webhook_progress SET through_seq = {ConsumedThrough("$1")} WHERE conversation_id = $1"),
                Step("""
                    DELETE FROM notifications.webhook_consumed
                    WHERE conversation_id = $1 AND seq <= (SELECT through_seq FROM notifications.webhook_progress WHERE conversation_id = $1)
                    """),
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        NpgsqlBatchCommand Step(string sql) => new(sql) { Parameters = { new() { Value = conversationId }, new() { Value = seq } } };
    }

    private async Task<List<Webhook>> QueryWebhooksAsync(string where, object[] parameters, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand($"SELECT {WebhookColumns} FROM notifications.webhooks WHERE {where}");
        foreach (var parameter in parameters)
            command.Parameters.AddWithValue(parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<Webhook>();
        while (await reader.ReadAsync(cancellationToken))
            found.Add(new Webhook(
                reader.GetGuid(0), reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3),
                reader.GetFieldValue<string[]>(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetString(10)));
        return found;
    }

    public async Task<int> CountForConversationAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM notifications.webhooks WHERE conversation_id = $1");
        command.Parameters.AddWithValue(conversationId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>Deletes the webhook and its delivery log (queued deliveries go with it).</summary>
    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand("DELETE FROM notifications.webhooks WHERE id = $1");
        command.Parameters.AddWithValue(id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>An erased account's webhooks go, with their logs.</summary>
    public async Task DeleteOwnedByAsync(Guid ownerId, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand("DELETE FROM notifications.webhooks WHERE owner_id = $1");
        command.Parameters.AddWithValue(ownerId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The owner's webhooks for every conversation stop (disabled with <paramref name="reason"/>, what they had queued
    /// marked failed): only a platform admin may have one. Their webhooks for one conversation are not touched (those
    /// follow the owner's role in the conversation). Returns how many were disabled.
    /// </summary>
    /// <summary>
    /// The owner is no longer a platform admin (or was disabled) since <paramref name="at"/>: their webhooks for every
    /// conversation are disabled, what those still had queued is failed, and registrations with a token issued until
    /// then are refused from now on (<see cref="InsertPlatformWideAsync"/>).
    /// </summary>
    public async Task<int> DisablePlatformWideOwnedByAsync(Guid ownerId, string reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var turn = new NpgsqlCommand(OwnerTurn, connection, transaction))
        {
            turn.Parameters.AddWithValue(ownerId);
            await turn.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var revoke = new NpgsqlCommand("""
            INSERT INTO notifications.webhook_owner_revocations (owner_id, revoked_at) VALUES ($1, $2)
            ON CONFLICT (owner_id) DO UPDATE SET revoked_at = greatest(webhook_owner_revocations.revoked_at, excluded.revoked_at)
            """, connection, transaction))
        {
            revoke.Parameters.AddWithValue(ownerId);
            revoke.Parameters.AddWithValue(at);
            await revoke.ExecuteNonQueryAsync(cancellationToken);
        }
        int stopped;
        await using (var command = new NpgsqlCommand("""
            WITH stopped AS (
              UPDATE notifications.webhooks SET disabled_at = $3, disabled_reason = $2
              WHERE owner_id = $1 AND conversation_id IS NULL AND disabled_at IS NULL
              RETURNING id),
            failed AS (
              UPDATE notifications.webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, $2), next_attempt_at = NULL
              WHERE webhook_id IN (SELECT id FROM stopped) AND status = 'pending')
            SELECT count(*)::int FROM stopped
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(ownerId);
            command.Parameters.AddWithValue(reason);
            command.Parameters.AddWithValue(at);
            stopped = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        await transaction.CommitAsync(cancellationToken);
        return stopped;
    }

    /// <summary>The owner was made a platform admin again at <paramref name="at"/>: tokens issued after an earlier revocation may register again.</summary>
    public async Task ClearOwnerRevocationAsync(Guid ownerId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand("DELETE FROM notifications.webhook_owner_revocations WHERE owner_id = $1 AND revoked_at < $2");
        command.Parameters.AddWithValue(ownerId);
        command.Parameters.AddWithValue(at);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RotateAsync(Guid id, string protectedSecret, string previousProtectedSecret, DateTimeOffset previousUntil, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand(
            "UPDATE notifications.webhooks SET secret = $2, previous_secret = $3, previous_secret_until = $4 WHERE id = $1");
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(protectedSecret);
        command.Parameters.AddWithValue(previousProtectedSecret);
        command.Parameters.AddWithValue(previousUntil);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Queues an event for a webhook once: the same event again (a redelivery from the bus) is ignored.</summary>
    public async Task EnqueueAsync(Guid webhookId, Guid conversationId, long seq, Guid eventId, string type, Guid? messageId, Guid actorId, string body,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO notifications.webhook_deliveries (webhook_id, conversation_id, seq, event_id, type, message_id, body, status, created_at, next_attempt_at, actor_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9)
            ON CONFLICT (webhook_id, event_id) DO NOTHING
            """);
        command.Parameters.AddWithValue(webhookId);
        command.Parameters.AddWithValue(conversationId);
        command.Parameters.AddWithValue(seq);
        command.Parameters.AddWithValue(eventId);
        command.Parameters.AddWithValue(type);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)messageId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.AddWithValue(body);
        command.Parameters.AddWithValue(now);
        command.Parameters.AddWithValue(actorId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Rewrites the queued (not yet delivered) deliveries about a message (<paramref name="byActor"/> false) or by a user
    /// (true): a deleted message's or an erased user's content is not sent out later.
    /// </summary>
    public async Task RewritePendingBodiesAsync(Guid id, bool byActor, Func<string, string> rewrite, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var bodies = new List<(long DeliveryId, string Body)>();
        await using (var select = new NpgsqlCommand(
            $"SELECT id, body FROM notifications.webhook_deliveries WHERE {(byActor ? "actor_id" : "message_id")} = $1 AND status = 'pending' FOR UPDATE",
            connection, transaction))
        {
            select.Parameters.AddWithValue(id);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                bodies.Add((reader.GetInt64(0), reader.GetString(1)));
        }
        foreach (var (deliveryId, body) in bodies)
        {
            await using var update = new NpgsqlCommand("UPDATE notifications.webhook_deliveries SET body = $2 WHERE id = $1", connection, transaction);
            update.Parameters.AddWithValue(deliveryId);
            update.Parameters.AddWithValue(rewrite(body));
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>A page of a webhook's delivery log, newest first; <paramref name="before"/> is the previous page's last id.</summary>
    public async Task<List<Delivery>> DeliveriesAsync(Guid webhookId, long? before, int limit, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand(
            $"SELECT {DeliveryColumns} FROM notifications.webhook_deliveries WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
        command.Parameters.AddWithValue(webhookId);
        command.Parameters.AddWithValue(before ?? long.MaxValue);
        command.Parameters.AddWithValue(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<Delivery>();
        while (await reader.ReadAsync(cancellationToken))
            found.Add(ReadDelivery(reader));
        return found;
    }

    public static Delivery ReadDelivery(NpgsqlDataReader reader) => new(
        reader.GetInt64(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetInt64(3), reader.GetGuid(4), reader.GetString(5), reader.GetString(6),
        reader.GetInt32(7), reader.IsDBNull(8) ? null : reader.GetInt32(8), reader.IsDBNull(9) ? null : reader.GetString(9),
        reader.GetFieldValue<DateTimeOffset>(10), reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
        reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12), reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13));

    /// <summary>
    /// Claims the next due delivery that heads its (webhook, conversation) queue, locked in <paramref name="transaction"/>
    /// until it commits: another replica skips it, and cannot take a later one of the same queue meanwhile (an earlier
    /// one is still pending), so each queue is sent in seq order, one delivery at a time.
    /// </summary>
    /// <remarks>
    /// A delivery is also held until every earlier event of its conversation has been consumed (<c>webhook_progress</c>):
    /// when two replicas consume the conversation's events at once, a later event queued first waits for the earlier
    /// one's delivery to be queued, unless that one is missing for longer than <paramref name="orderWait"/>.
    /// </remarks>
    public static async Task<(Delivery Delivery, string Body)?> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset now,
        TimeSpan orderWait, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT {string.Join(", ", DeliveryColumns.Split(", ").Select(c => "d." + c))}, d.body
            FROM notifications.webhook_deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_at <= $1
              AND NOT EXISTS (SELECT 1 FROM notifications.webhook_deliveries e
                              WHERE e.webhook_id = d.webhook_id AND e.conversation_id = d.conversation_id AND e.status = 'pending' AND e.seq < d.seq)
              AND (d.seq - 1 <= COALESCE({ConsumedThrough("d.conversation_id")}, d.seq) OR d.created_at <= $2)
            ORDER BY d.next_attempt_at
            LIMIT 1
            FOR UPDATE SKIP LOCKED
            """, connection, transaction);
        command.Parameters.AddWithValue(now);
        command.Parameters.AddWithValue(now - orderWait);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return (ReadDelivery(reader), reader.GetString(14));
    }

    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long id, string status, int attempts,
        int? statusCode, string? error, DateTimeOffset at, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE notifications.webhook_deliveries
            SET status = $2, attempts = $3, last_status_code = $4, last_error = $5, last_attempt_at = $6, next_attempt_at = $7,
                delivered_at = CASE WHEN $2 = 'delivered' THEN $6 END
            WHERE id = $1
            """, connection, transaction);
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(status);
        command.Parameters.AddWithValue(attempts);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)statusCode ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(at);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)nextAttemptAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The deliveries a failed one holds (later in the same webhook and conversation) are not due before its next attempt:
    /// the claim then does not step over them again and again while the head waits.
    /// </summary>
    public static async Task HoldBehindAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Delivery head, DateTimeOffset until,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE notifications.webhook_deliveries SET next_attempt_at = $4
            WHERE webhook_id = $1 AND conversation_id = $2 AND seq > $3 AND status = 'pending' AND next_attempt_at < $4
            """, connection, transaction);
        command.Parameters.AddWithValue(head.WebhookId);
        command.Parameters.AddWithValue(head.ConversationId);
        command.Parameters.AddWithValue(head.Seq);
        command.Parameters.AddWithValue(until);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Gives up on a webhook: disabled, and what it still had queued marked failed.</summary>
    public static async Task DisableAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid webhookId, string reason, DateTimeOffset at,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("UPDATE notifications.webhooks SET disabled_at = $3, disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL")
                {
                    Parameters = { new() { Value = webhookId }, new() { Value = reason }, new() { Value = at } },
                },
                new NpgsqlBatchCommand("""
                    UPDATE notifications.webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, $2), next_attempt_at = NULL
                    WHERE webhook_id = $1 AND status = 'pending'
                    """)
                {
                    Parameters = { new() { Value = webhookId }, new() { Value = reason } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The age of the oldest queued delivery (the queue-age metric), or null when nothing waits.</summary>
    public async Task<TimeSpan?> OldestPendingAgeAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand("SELECT min(created_at) FROM notifications.webhook_deliveries WHERE status = 'pending'");
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime oldest ? now - new DateTimeOffset(oldest, TimeSpan.Zero) : null;
    }

    /// <summary>Forgets delivered and failed deliveries older than the log's retention.</summary>
    public async Task PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var command = dataSource.CreateCommand(
            "DELETE FROM notifications.webhook_deliveries WHERE status <> 'pending' AND coalesce(last_attempt_at, created_at) < $1");
        command.Parameters.AddWithValue(olderThan);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
