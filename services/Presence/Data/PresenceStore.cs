using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Platform.Contracts.Gateway;
using Platform.Contracts.Identity;
using Platform.Contracts.Presence;
using Platform.Presence.Domain;

namespace Platform.Presence.Data;

/// <summary>A user's presence as one viewer may see it; <c>unknown</c> when the viewer may not.</summary>
public sealed record PresenceView(Guid UserId, string Status, string? Availability, DateTimeOffset? LastActiveAt, string? StatusText);

/// <summary>A user's own presence: what others see and what they set.</summary>
public sealed record OwnPresence(Guid UserId, string Status, string Availability, string? StatusText, DateTimeOffset? StatusExpiresAt,
    DateTimeOffset? LastActiveAt, IReadOnlyList<Device> Devices);

public sealed record Device(string DeviceKind, DateTimeOffset? ConnectedAt);

/// <summary>
/// Presence state in PostgreSQL, shared by every replica. Each change of a user runs in one transaction that locks the
/// user's row, applies the change, evaluates <see cref="PresenceRules"/> and, when what others see changes, stores the
/// new shown state with a higher version and a pending-publish mark (cleared once <see cref="PresenceChanged"/> left).
/// </summary>
public sealed class PresenceStore(NpgsqlDataSource dataSource, PresenceSchema schema, IOptions<PresenceOptions> options, TimeProvider time)
{
    private PresenceOptions Options => options.Value;

    public async Task<PresenceChanged?> OpenedAsync(ConnectionOpened opened, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // A duplicate delivered after the closed connection was forgotten must not open it again.
        if (now - opened.OpenedAt > Options.ConnectionMemory / 2)
            return null;
        return await ChangeAsync(opened.UserId, now,
            before: (connection, transaction) => ExecuteAsync(connection, transaction,
                "INSERT INTO presence.instances (instance_id, last_heartbeat_at) VALUES ($1, $2) ON CONFLICT (instance_id) DO NOTHING",
                Text(opened.InstanceId), Time(now)),
            change: (connection, transaction) => ExecuteAsync(connection, transaction, """
                INSERT INTO presence.connections (connection_id, user_id, instance_id, device_kind, opened_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (connection_id) DO NOTHING
                """, Text(opened.ConnectionId), Id(opened.UserId), Text(opened.InstanceId), Text(opened.DeviceKind), Time(Clamp(opened.OpenedAt, now))),
            activityAt: Clamp(opened.OpenedAt, now), cancellationToken: cancellationToken);
    }

    public Task<PresenceChanged?> ClosedAsync(ConnectionClosed closed, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Closed before its opening arrived, or twice: the first close time stays, and the opening finds it closed.
        return ChangeAsync(closed.UserId, now, before: null,
            change: (connection, transaction) => ExecuteAsync(connection, transaction, """
                INSERT INTO presence.connections (connection_id, user_id, instance_id, device_kind, closed_at) VALUES ($1, $2, $3, 'unknown', $4)
                ON CONFLICT (connection_id) DO UPDATE SET closed_at = coalesce(connections.closed_at, excluded.closed_at)
                """, Text(closed.ConnectionId), Id(closed.UserId), Text(closed.InstanceId), Time(now)),
            activityAt: null, cancellationToken: cancellationToken);
    }

    /// <summary>Status set by the user (already validated).</summary>
    public Task<PresenceChanged?> SetStatusAsync(Guid userId, UserStatus status, CancellationToken cancellationToken) =>
        ChangeAsync(userId, time.GetUtcNow(), before: null, change: null, activityAt: null, cancellationToken, status);

    /// <summary>Evaluates a user again (a grace period ended, an instance died, a status expired).</summary>
    public Task<PresenceChanged?> EvaluateAsync(Guid userId, CancellationToken cancellationToken) =>
        ChangeAsync(userId, time.GetUtcNow(), before: null, change: null, activityAt: null, cancellationToken);

    /// <summary>
    /// Records the instance as alive at the time of receipt (our clock, so the Gateways' clocks do not matter). An
    /// instance that stops ends its connections now; one that was given up for dead and heartbeats again revives them.
    /// </summary>
    public async Task HeartbeatAsync(InstanceHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        bool? wasDead = null;
        await using (var read = Command(connection, transaction, "SELECT dead, stopped FROM presence.instances WHERE instance_id = $1 FOR UPDATE", Text(heartbeat.InstanceId)))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            if (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetBoolean(1))
                    return; // A stopped instance stays stopped: its id is never reused.
                wasDead = reader.GetBoolean(0);
            }
        await ExecuteAsync(connection, transaction, """
            INSERT INTO presence.instances (instance_id, last_heartbeat_at, stopped, dead) VALUES ($1, $2, $3, $3)
            ON CONFLICT (instance_id) DO UPDATE
            SET last_heartbeat_at = greatest(instances.last_heartbeat_at, excluded.last_heartbeat_at), stopped = excluded.stopped, dead = excluded.dead
            """, cancellationToken, Text(heartbeat.InstanceId), Time(now), Bool(heartbeat.Stopping));
        if (heartbeat.Stopping || wasDead == true)
            await ExecuteAsync(connection, transaction, """
                UPDATE presence.users SET due_at = $2
                WHERE user_id IN (SELECT user_id FROM presence.connections WHERE instance_id = $1 AND closed_at IS NULL)
                """, cancellationToken, Text(heartbeat.InstanceId), Time(now));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Activity (connect, send, typing) moves the last-active time forward, written at most once per throttle period.</summary>
    public Task TouchAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken) =>
        TouchAsync([(userId, at)], cancellationToken);

    /// <summary>Several users' activity (a batch of posted messages), in one statement; the latest time of each user counts.</summary>
    public async Task TouchAsync(IEnumerable<(Guid UserId, DateTimeOffset At)> activity, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var latest = new Dictionary<Guid, DateTimeOffset>();
        foreach (var (userId, at) in activity)
        {
            var clamped = Clamp(at, now);
            if (!latest.TryGetValue(userId, out var known) || clamped > known)
                latest[userId] = clamped;
        }
        // The statement below changes nothing while the stored time is within the throttle of this one, and the stored
        // time only moves forward: what this replica wrote last tells, without a round trip, that it would not.
        var due = latest.Where(touch => !(_touched.TryGetValue(touch.Key, out var written) && touch.Value - written < Options.ActivityThrottle)).ToList();
        if (due.Count == 0)
            return;
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            INSERT INTO presence.users AS u (user_id, last_active_at, visible_last_active_at)
            SELECT t.user_id, t.at, t.at FROM unnest($1::uuid[], $2::timestamptz[]) AS t (user_id, at)
            ON CONFLICT (user_id) DO UPDATE
            SET last_active_at = greatest(u.last_active_at, excluded.last_active_at),
                visible_last_active_at = CASE WHEN u.status <> 'invisible' THEN greatest(u.visible_last_active_at, excluded.last_active_at) ELSE u.visible_last_active_at END
            WHERE u.last_active_at IS NULL OR u.last_active_at < excluded.last_active_at - $3
            """, cancellationToken,
            new NpgsqlParameter { Value = due.Select(touch => touch.Key).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
            new NpgsqlParameter { Value = due.Select(touch => touch.Value).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
            new NpgsqlParameter { Value = Options.ActivityThrottle, NpgsqlDbType = NpgsqlDbType.Interval });
        foreach (var (userId, at) in due)
            RememberTouch(userId, at);
    }

    // Last-active times this replica stored (or found newer), per user: at most one write per user and throttle interval.
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _touched = new();

    private void RememberTouch(Guid userId, DateTimeOffset at)
    {
        _touched.AddOrUpdate(userId, at, (_, before) => before > at ? before : at);
        if (_touched.Count <= 100_000)
            return;
        // Bounded: users not touched within the throttle are forgotten (the statement decides for them again).
        var forget = time.GetUtcNow() - Options.ActivityThrottle;
        foreach (var (user, written) in _touched)
            if (written < forget)
                _touched.TryRemove(user, out _);
    }

    /// <summary>A join or a leave seen at <paramref name="seq"/>; an older event of the same pair changes nothing.</summary>
    public async Task ApplyMembershipAsync(Guid conversationId, IReadOnlyList<Guid> userIds, long seq, bool active, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            INSERT INTO presence.members AS m (conversation_id, user_id, seq, active) SELECT $1, u, $3, $4 FROM unnest($2::uuid[]) AS u
            ON CONFLICT (conversation_id, user_id) DO UPDATE SET seq = excluded.seq, active = excluded.active WHERE m.seq < excluded.seq
            """, cancellationToken, Id(conversationId), new NpgsqlParameter { Value = userIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
            new NpgsqlParameter { Value = seq, NpgsqlDbType = NpgsqlDbType.Bigint }, Bool(active));
    }

    /// <summary>Up to <paramref name="limit"/> active members of a conversation.</summary>
    public async Task<IReadOnlyList<Guid>> ActiveMembersAsync(Guid conversationId, int limit, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT user_id FROM presence.members WHERE conversation_id = $1 AND active LIMIT $2",
            Id(conversationId), new NpgsqlParameter { Value = limit, NpgsqlDbType = NpgsqlDbType.Integer });
        return await ReadAllAsync(command, reader => reader.GetGuid(0), cancellationToken);
    }

    /// <summary>A backfill's checkpoint; 0 when none is stored.</summary>
    public async Task<long> LoadCheckpointAsync(string name, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT position FROM presence.checkpoints WHERE name = $1", Text(name));
        return await command.ExecuteScalarAsync(cancellationToken) is long position ? position : 0;
    }

    /// <summary>Moves a backfill's checkpoint forward, never back (replicas run their own passes).</summary>
    public async Task SaveCheckpointAsync(string name, long position, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            INSERT INTO presence.checkpoints AS c (name, position) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE c.position < excluded.position
            """, cancellationToken, Text(name), new NpgsqlParameter { Value = position, NpgsqlDbType = NpgsqlDbType.Bigint });
    }

    public async Task ApplyContactsAsync(ContactsChanged changed, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var (ids, active) in new[] { (changed.Added, true), (changed.Removed, false) })
            if (ids.Count > 0)
                await ExecuteAsync(connection, null, """
                    INSERT INTO presence.contacts AS c (owner_id, contact_id, active, changed_at) SELECT $1, u, $3, $4 FROM unnest($2::uuid[]) AS u
                    ON CONFLICT (owner_id, contact_id) DO UPDATE SET active = excluded.active, changed_at = excluded.changed_at
                    WHERE c.changed_at <= excluded.changed_at
                    """, cancellationToken, Id(changed.OwnerId), new NpgsqlParameter { Value = ids.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                    Bool(active), Time(changed.ChangedAt.ToUniversalTime()));
    }

    public async Task ApplyBlocksAsync(BlocksChanged changed, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var (ids, active) in new[] { (changed.Added, true), (changed.Removed, false) })
            if (ids.Count > 0)
                await ExecuteAsync(connection, null, """
                    INSERT INTO presence.blocks AS b (owner_id, blocked_id, active, changed_at) SELECT $1, u, $3, $4 FROM unnest($2::uuid[]) AS u
                    ON CONFLICT (owner_id, blocked_id) DO UPDATE SET active = excluded.active, changed_at = excluded.changed_at
                    WHERE b.changed_at <= excluded.changed_at
                    """, cancellationToken, Id(changed.OwnerId), new NpgsqlParameter { Value = ids.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                    Bool(active), Time(changed.ChangedAt.ToUniversalTime()));
    }

    /// <summary>
    /// A deleted account: its connections, its row (status, status text, activity), memberships, contacts, blocks and
    /// privacy setting go, both ways, in one transaction. Deleting what is already gone changes nothing.
    /// </summary>
    public async Task EraseUserAsync(Guid userId, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sql in (string[])[
            "DELETE FROM presence.connections WHERE user_id = $1",
            "DELETE FROM presence.users WHERE user_id = $1",
            "DELETE FROM presence.members WHERE user_id = $1",
            "DELETE FROM presence.contacts WHERE owner_id = $1 OR contact_id = $1",
            "DELETE FROM presence.blocks WHERE owner_id = $1 OR blocked_id = $1",
            "DELETE FROM presence.privacy WHERE user_id = $1",
        ])
            await ExecuteAsync(connection, transaction, sql, cancellationToken, Id(userId));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task ApplyPrivacyAsync(PrivacyChanged changed, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            INSERT INTO presence.privacy AS p (user_id, last_seen, changed_at) VALUES ($1, $2, $3)
            ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen, changed_at = excluded.changed_at
            WHERE p.changed_at <= excluded.changed_at
            """, cancellationToken, Id(changed.UserId), Text(changed.LastSeen), Time(changed.ChangedAt.ToUniversalTime()));
    }

    /// <summary>
    /// Whether viewer <c>$1</c> may see user <c>t.id</c> (SQL over <c>t</c>, with <c>p</c> the user's privacy row): their
    /// <c>lastSeen</c> allows it (everyone: a shared conversation or a contact either way; contacts: the user has the viewer
    /// as a contact; nobody: no one), and no block stands between them.
    /// </summary>
    private const string VisibleToViewer = """
        (t.id = $1
         OR (NOT EXISTS (SELECT 1 FROM presence.blocks b
                         WHERE b.active AND ((b.owner_id = $1 AND b.blocked_id = t.id) OR (b.owner_id = t.id AND b.blocked_id = $1)))
             AND CASE COALESCE(p.last_seen, 'everyone')
                 WHEN 'nobody' THEN false
                 WHEN 'contacts' THEN EXISTS (SELECT 1 FROM presence.contacts c WHERE c.active AND c.owner_id = t.id AND c.contact_id = $1)
                 ELSE EXISTS (SELECT 1 FROM presence.members mine JOIN presence.members theirs
                              ON theirs.conversation_id = mine.conversation_id AND theirs.user_id = t.id AND theirs.active
                              WHERE mine.user_id = $1 AND mine.active)
                      OR EXISTS (SELECT 1 FROM presence.contacts c
                                 WHERE c.active AND ((c.owner_id = $1 AND c.contact_id = t.id) OR (c.owner_id = t.id AND c.contact_id = $1)))
                 END))
        """;

    /// <summary>
    /// Instances silent for the TTL (or stopped) are given up for dead, once, by whichever replica gets there first;
    /// their users become due for evaluation in the same statement.
    /// </summary>
    public async Task DeclareDeadInstancesAsync(CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            WITH dead AS (
                UPDATE presence.instances SET dead = true WHERE NOT dead AND (stopped OR last_heartbeat_at <= $1) RETURNING instance_id)
            UPDATE presence.users SET due_at = $2
            WHERE user_id IN (SELECT c.user_id FROM presence.connections c JOIN dead d ON d.instance_id = c.instance_id WHERE c.closed_at IS NULL)
            """, cancellationToken, Time(now - Options.InstanceTtl), Time(now));
    }

    public async Task<IReadOnlyList<Guid>> DueUsersAsync(int limit, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT user_id FROM presence.users WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
            Time(time.GetUtcNow()), new NpgsqlParameter { Value = limit, NpgsqlDbType = NpgsqlDbType.Integer });
        return await ReadAllAsync(command, reader => reader.GetGuid(0), cancellationToken);
    }

    /// <summary>Changes committed but not yet published (their publisher crashed or the broker was away).</summary>
    public async Task<IReadOnlyList<PresenceChanged>> UnpublishedAsync(TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT user_id, shown_status, shown_availability, shown_text, visible_last_active_at, version, changed_at
            FROM presence.users WHERE publish_pending AND changed_at <= $1 ORDER BY changed_at LIMIT 500
            """, Time(time.GetUtcNow() - olderThan));
        return await ReadAllAsync(command, reader => new PresenceChanged
        {
            UserId = reader.GetGuid(0),
            Status = reader.GetString(1),
            Availability = reader.IsDBNull(2) ? null : reader.GetString(2),
            StatusText = reader.IsDBNull(3) ? null : reader.GetString(3),
            LastActiveAt = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
            Version = reader.GetInt64(5),
            ChangedAt = reader.GetFieldValue<DateTimeOffset>(6),
        }, cancellationToken);
    }

    public async Task MarkPublishedAsync(Guid userId, long version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, "UPDATE presence.users SET publish_pending = false WHERE user_id = $1 AND version = $2 AND publish_pending",
            cancellationToken, Id(userId), new NpgsqlParameter { Value = version, NpgsqlDbType = NpgsqlDbType.Bigint });
    }

    /// <summary>Forgets closed connections and long-dead instances after <see cref="PresenceOptions.ConnectionMemory"/>.</summary>
    public async Task PruneAsync(CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        var before = time.GetUtcNow() - Options.ConnectionMemory;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var sql in new[]
        {
            "DELETE FROM presence.connections WHERE closed_at < $1",
            "DELETE FROM presence.connections c USING presence.instances i WHERE i.instance_id = c.instance_id AND i.dead AND i.last_heartbeat_at < $1",
            "DELETE FROM presence.instances WHERE dead AND last_heartbeat_at < $1",
        })
            await ExecuteAsync(connection, null, sql, cancellationToken, Time(before));
    }

    /// <summary>
    /// The presence of <paramref name="userIds"/> as <paramref name="viewer"/> may see it: users who share a
    /// conversation or a contact relation with the viewer (and the viewer), as their <c>lastSeen</c> setting allows and
    /// unless a block stands between them either way; others <c>unknown</c>.
    /// </summary>
    public async Task<IReadOnlyList<PresenceView>> ReadAsync(Guid viewer, IReadOnlyList<Guid> userIds, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, $$"""
            SELECT t.id, t.n, u.shown_status, u.shown_availability, u.shown_text, u.visible_last_active_at,
            {{VisibleToViewer}}
            FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, n)
            LEFT JOIN presence.users u ON u.user_id = t.id
            LEFT JOIN presence.privacy p ON p.user_id = t.id
            ORDER BY t.n
            """, Id(viewer), new NpgsqlParameter { Value = userIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        return await ReadAllAsync(command, reader =>
        {
            var id = reader.GetGuid(0);
            if (!reader.GetBoolean(6))
                return new PresenceView(id, Shown.Unknown, null, null, null);
            if (reader.IsDBNull(2))
                return new PresenceView(id, Shown.Offline, null, null, null);
            return new PresenceView(id, reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(4) ? null : reader.GetString(4));
        }, cancellationToken);
    }

    public async Task<OwnPresence> ReadOwnAsync(Guid userId, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var devicesCommand = Command(connection, null, """
            SELECT c.device_kind, c.opened_at FROM presence.connections c JOIN presence.instances i ON i.instance_id = c.instance_id
            WHERE c.user_id = $1 AND c.closed_at IS NULL AND NOT i.stopped AND i.last_heartbeat_at > $2 ORDER BY c.opened_at
            """, Id(userId), Time(now - Options.InstanceTtl));
        var devices = await ReadAllAsync(devicesCommand, reader => new Device(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1)), cancellationToken);
        await using var command = Command(connection, null, """
            SELECT shown_status, status, status_text, status_expires_at, last_active_at FROM presence.users WHERE user_id = $1
            """, Id(userId));
        var own = await ReadAllAsync(command, reader =>
        {
            var expires = reader.IsDBNull(3) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(3);
            var expired = expires <= now;
            return new OwnPresence(userId, reader.GetString(0), expired ? UserStatus.Available : reader.GetString(1),
                expired || reader.IsDBNull(2) ? null : reader.GetString(2), expired ? null : expires,
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), devices);
        }, cancellationToken);
        return own.Count > 0 ? own[0] : new OwnPresence(userId, Shown.Offline, UserStatus.Available, null, null, null, devices);
    }

    /// <summary>The conversation's members online now, or null when <paramref name="viewer"/> is not a member.</summary>
    public async Task<(int Members, IReadOnlyList<PresenceView> Online)?> OccupancyAsync(Guid viewer, Guid conversationId, CancellationToken cancellationToken)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, $$"""
            SELECT t.id, u.shown_status, u.shown_availability, u.shown_text, u.visible_last_active_at, {{VisibleToViewer}}
            FROM presence.members m CROSS JOIN LATERAL (SELECT m.user_id AS id) t
            LEFT JOIN presence.users u ON u.user_id = t.id
            LEFT JOIN presence.privacy p ON p.user_id = t.id
            WHERE m.conversation_id = $2 AND m.active
            """, Id(viewer), Id(conversationId));
        var members = await ReadAllAsync(command, reader => (View: new PresenceView(reader.GetGuid(0),
            reader.IsDBNull(1) ? Shown.Offline : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(3) ? null : reader.GetString(3)), Visible: reader.GetBoolean(5)),
            cancellationToken);
        if (!members.Any(m => m.View.UserId == viewer))
            return null;
        // Members whose settings hide them from the viewer count as members, never as online.
        return (members.Count, members.Where(m => m.Visible && m.View.Status == Shown.Online).Select(m => m.View).OrderBy(m => m.UserId).ToList());
    }

    private async Task<PresenceChanged?> ChangeAsync(
        Guid userId,
        DateTimeOffset now,
        Func<NpgsqlConnection, NpgsqlTransaction, Task>? before,
        Func<NpgsqlConnection, NpgsqlTransaction, Task>? change,
        DateTimeOffset? activityAt,
        CancellationToken cancellationToken,
        UserStatus? newStatus = null)
    {
        await schema.EnsureCreatedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Locks are taken instance first, then user, everywhere.
        if (before is not null)
            await before(connection, transaction);

        await ExecuteAsync(connection, transaction, "INSERT INTO presence.users (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING", cancellationToken, Id(userId));
        UserStatus status;
        Shown shown;
        await using (var read = Command(connection, transaction, """
            SELECT status, status_text, status_expires_at, shown_status, shown_availability, shown_text FROM presence.users WHERE user_id = $1 FOR UPDATE
            """, Id(userId)))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            status = new UserStatus(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2));
            shown = new Shown(reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5));
        }

        if (change is not null)
            await change(connection, transaction);
        status = newStatus ?? status;

        Connections connections;
        await using (var aggregate = Command(connection, transaction, """
            SELECT coalesce(bool_or(c.closed_at IS NULL AND NOT i.stopped AND i.last_heartbeat_at > $2), false),
                   max(CASE WHEN c.closed_at IS NOT NULL THEN c.closed_at
                            WHEN i.instance_id IS NULL THEN c.opened_at
                            WHEN i.stopped OR i.last_heartbeat_at <= $2 THEN i.last_heartbeat_at END)
            FROM presence.connections c LEFT JOIN presence.instances i ON i.instance_id = c.instance_id
            WHERE c.user_id = $1
            """, Id(userId), Time(now - Options.InstanceTtl)))
        await using (var reader = await aggregate.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            connections = new Connections(reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
        }

        var evaluation = PresenceRules.Evaluate(status, connections, wasOnline: shown.Status == Shown.Online, now, Options.OfflineGrace);
        var changed = evaluation.Shown != shown;
        var lastActive = evaluation.WentOfflineAt is { } gone && (activityAt is null || gone > activityAt) ? gone : activityAt;
        var result = evaluation.Status;
        PresenceChanged? published = null;
        await using (var write = Command(connection, transaction, """
            UPDATE presence.users SET
                status = $2, status_text = $3, status_expires_at = $4, due_at = $5,
                last_active_at = greatest(last_active_at, $6),
                visible_last_active_at = CASE WHEN $7 THEN greatest(visible_last_active_at, $6) ELSE visible_last_active_at END,
                shown_status = $8, shown_availability = $9, shown_text = $10,
                version = version + CASE WHEN $11 THEN 1 ELSE 0 END,
                changed_at = CASE WHEN $11 THEN $12 ELSE changed_at END,
                publish_pending = publish_pending OR $11
            WHERE user_id = $1
            RETURNING visible_last_active_at, version
            """,
            Id(userId), Text(result.Status), Text(result.Text), Time(result.ExpiresAt), Time(evaluation.DueAt), Time(lastActive),
            Bool(PresenceRules.ShowsActivity(result)), Text(evaluation.Shown.Status), Text(evaluation.Shown.Availability), Text(evaluation.Shown.Text),
            Bool(changed), Time(now)))
        await using (var reader = await write.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            if (changed)
                published = new PresenceChanged
                {
                    UserId = userId,
                    Status = evaluation.Shown.Status,
                    Availability = evaluation.Shown.Availability,
                    StatusText = evaluation.Shown.Text,
                    LastActiveAt = reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0),
                    Version = reader.GetInt64(1),
                    ChangedAt = now,
                };
        }
        await transaction.CommitAsync(cancellationToken);
        return published;
    }

    private static DateTimeOffset Clamp(DateTimeOffset at, DateTimeOffset now) => at.ToUniversalTime() > now ? now : at.ToUniversalTime();

    private static NpgsqlParameter Id(Guid value) => new() { Value = value, NpgsqlDbType = NpgsqlDbType.Uuid };

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlParameter Time(DateTimeOffset? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    private static NpgsqlParameter Bool(bool value) => new() { Value = value, NpgsqlDbType = NpgsqlDbType.Boolean };

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params NpgsqlParameter[] parameters) =>
        ExecuteAsync(connection, transaction, sql, CancellationToken.None, parameters);

    private static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        var items = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(map(reader));
        return items;
    }
}
