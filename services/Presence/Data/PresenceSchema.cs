using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Platform.Presence.Data;

/// <summary>
/// Presence's tables in the <c>presence</c> schema, created (idempotently, one replica at a time) before the store is
/// first used. Readiness fails until they exist.
/// </summary>
public sealed class PresenceSchema(NpgsqlDataSource dataSource, ILogger<PresenceSchema> logger) : IHealthCheck
{
    public const string Name = "presence";

    private const string Ddl = """
        SELECT pg_advisory_xact_lock(7242618);
        CREATE SCHEMA IF NOT EXISTS presence;

        -- Gateway instances: live while they heartbeat and have not said they stop.
        CREATE TABLE IF NOT EXISTS presence.instances (
            instance_id       text PRIMARY KEY,
            last_heartbeat_at timestamptz NOT NULL,
            stopped           boolean NOT NULL DEFAULT false,
            dead              boolean NOT NULL DEFAULT false);

        -- Connections, open (closed_at null) or closed; a closed one is kept for a while so a late duplicate of its
        -- opening cannot bring it back.
        CREATE TABLE IF NOT EXISTS presence.connections (
            connection_id text PRIMARY KEY,
            user_id       uuid NOT NULL,
            instance_id   text NOT NULL,
            device_kind   text NOT NULL,
            opened_at     timestamptz,
            closed_at     timestamptz);
        CREATE INDEX IF NOT EXISTS connections_user ON presence.connections (user_id);
        CREATE INDEX IF NOT EXISTS connections_open_by_instance ON presence.connections (instance_id) WHERE closed_at IS NULL;
        CREATE INDEX IF NOT EXISTS connections_closed_at ON presence.connections (closed_at) WHERE closed_at IS NOT NULL;

        -- One row per user: their setting, their activity, and what others were last told (shown_*, version).
        CREATE TABLE IF NOT EXISTS presence.users (
            user_id                uuid PRIMARY KEY,
            status                 text NOT NULL DEFAULT 'available',
            status_text            text,
            status_expires_at      timestamptz,
            last_active_at         timestamptz,
            visible_last_active_at timestamptz,
            shown_status           text NOT NULL DEFAULT 'offline',
            shown_availability     text,
            shown_text             text,
            version                bigint NOT NULL DEFAULT 0,
            changed_at             timestamptz,
            due_at                 timestamptz,
            publish_pending        boolean NOT NULL DEFAULT false);
        CREATE INDEX IF NOT EXISTS users_due ON presence.users (due_at) WHERE due_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS users_publish_pending ON presence.users (changed_at) WHERE publish_pending;

        -- Who shares a conversation, learnt from the conversation events (seq orders a pair's joins and leaves).
        CREATE TABLE IF NOT EXISTS presence.members (
            conversation_id uuid NOT NULL,
            user_id         uuid NOT NULL,
            seq             bigint NOT NULL,
            active          boolean NOT NULL,
            PRIMARY KEY (conversation_id, user_id));
        CREATE INDEX IF NOT EXISTS members_user ON presence.members (user_id) WHERE active;

        -- Contacts, learnt from Identity (changed_at orders a pair's additions and removals).
        CREATE TABLE IF NOT EXISTS presence.contacts (
            owner_id   uuid NOT NULL,
            contact_id uuid NOT NULL,
            active     boolean NOT NULL,
            changed_at timestamptz NOT NULL,
            PRIMARY KEY (owner_id, contact_id));
        CREATE INDEX IF NOT EXISTS contacts_contact ON presence.contacts (contact_id) WHERE active;

        -- Blocks, learnt from Identity (changed_at orders a pair's blocks and unblocks); a block hides presence both ways.
        CREATE TABLE IF NOT EXISTS presence.blocks (
            owner_id   uuid NOT NULL,
            blocked_id uuid NOT NULL,
            active     boolean NOT NULL,
            changed_at timestamptz NOT NULL,
            PRIMARY KEY (owner_id, blocked_id));
        CREATE INDEX IF NOT EXISTS blocks_blocked ON presence.blocks (blocked_id) WHERE active;

        -- Who may see a user's presence (Identity's lastSeen: everyone, contacts, nobody); no row is everyone.
        CREATE TABLE IF NOT EXISTS presence.privacy (
            user_id    uuid PRIMARY KEY,
            last_seen  text NOT NULL,
            changed_at timestamptz NOT NULL);

        -- How far a backfill has read another service's log (conversation-log: Messaging's global position).
        CREATE TABLE IF NOT EXISTS presence.checkpoints (
            name     text PRIMARY KEY,
            position bigint NOT NULL);
        """;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _created;

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_created)
            return;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_created)
                return;
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = new NpgsqlCommand(Ddl, connection, transaction))
                await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _created = true;
            logger.LogInformation("Presence schema ready");
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await EnsureCreatedAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("The presence schema could not be created.", exception);
        }
    }
}
