using Marten;
using MassTransit;
using Npgsql;
using NpgsqlTypes;
using Platform.Contracts.Gateway;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;

namespace Platform.Messaging.Consumers;

/// <summary>
/// Delivered receipts from the Gateways, a batch per instance and interval (<see cref="DeliveriesAcknowledged"/>): the
/// members' delivered cursors move forward in one statement for the whole batch (one commit), instead of a request, a
/// few reads and a commit per member; each moved cursor is then told as <c>POST .../receipts</c> tells it (to the senders
/// of the messages it newly covers; a delivered cursor is not told to the member's own devices, nor in channels). An item for a
/// user who is not an active member, or beyond the conversation's log, is dropped; a cursor never moves back, so a
/// batch delivered twice or late changes nothing.
/// </summary>
public sealed class DeliveredReceiptsConsumer(IQuerySession session, NpgsqlDataSource dataSource, ReceiptPublisher receipts)
    : IConsumer<DeliveriesAcknowledged>
{
    public async Task Consume(ConsumeContext<DeliveriesAcknowledged> context)
    {
        var cancellationToken = context.CancellationToken;
        var highest = context.Message.Items
            .GroupBy(item => Membership.KeyOf(item.ConversationId, item.UserId))
            .ToDictionary(group => group.Key, group => group.Max(item => item.Seq));
        if (highest.Count == 0)
            return;
        var members = await session.LoadManyAsync<Membership>(cancellationToken, highest.Keys);
        var conversations = (await session.LoadManyAsync<ConversationView>(cancellationToken, members.Select(m => m.ConversationId).Distinct()))
            .ToDictionary(c => c.Id);
        var moving = members
            .Where(m => m.Active && conversations.TryGetValue(m.ConversationId, out var conversation)
                && highest[m.Id] <= conversation.LastSeq && highest[m.Id] > m.DeliveredSeq)
            .ToDictionary(m => m.Id);
        if (moving.Count == 0)
            return;

        // A send's transaction holds its sender's membership row until it commits, which takes milliseconds: rows held
        // are tried again shortly. If they stay held, what moved is told and the message is retried (a cursor never
        // moves back, so what moved does not move, nor is told, again).
        var moved = new List<Membership>(moving.Count);
        var busy = await MoveAsync(moving, highest, moved, cancellationToken);
        for (var attempt = 0; busy.Count > 0 && attempt < BusyRetryDelays.Length; attempt++)
        {
            await Task.Delay(BusyRetryDelays[attempt], cancellationToken);
            busy = await MoveAsync(busy.ToDictionary(id => id, id => moving[id]), highest, moved, cancellationToken);
        }

        // Told to the senders of what each moved cursor newly covers (one query for the batch).
        var privacy = (await session.LoadManyAsync<UserPrivacy>(cancellationToken,
                moved.Where(m => Receipts.ToOthers(conversations[m.ConversationId], m)).Select(m => m.UserId).Distinct()))
            .ToDictionary(p => p.Id);
        await Receipts.TellAsync(dataSource, receipts,
            moved.Select(m => new Receipts.CursorMove(conversations[m.ConversationId], moving[m.Id], m, privacy.GetValueOrDefault(m.UserId))).ToList(),
            cancellationToken);
        if (busy.Count > 0)
            throw new InvalidOperationException(
                $"The delivered cursors of {busy.Count} members stayed locked by other transactions; the batch is retried.");
    }

    /// <summary>How long to wait before trying again the rows other transactions held.</summary>
    private static readonly TimeSpan[] BusyRetryDelays =
        [TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250)];

    /// <summary>
    /// Moves the cursors forward in one statement that never waits for a row: a row another transaction holds is left
    /// out and returned as busy (a row deleted meanwhile may be too, and is gone at the next attempt). The send path holds its sender's membership row from its upsert to its commit, in
    /// conversation order, and a statement taking many members' rows in another order while waiting for each could wait
    /// for a send that waits for it (PostgreSQL's deadlock detection then ends one of them after a second, with the sends
    /// of the whole batch waiting that second).
    /// </summary>
    private async Task<List<string>> MoveAsync(
        Dictionary<string, Membership> moving, Dictionary<string, long> highest, List<Membership> moved, CancellationToken cancellationToken)
    {
        var busy = new List<string>();
        await using var command = dataSource.CreateCommand($"""
            with locked as (
                select m.id from {MessagingServiceExtensions.Schema}.mt_doc_membership m
                where m.id = any($1) for update skip locked
            ), moved as (
                update {MessagingServiceExtensions.Schema}.mt_doc_membership m
                set data = m.data || jsonb_build_object('deliveredSeq', v.seq)
                from unnest($1::text[], $2::bigint[]) as v(id, seq)
                where m.id = v.id and m.id in (select id from locked) and (m.data ->> 'deliveredSeq')::bigint < v.seq
                returning m.id, (m.data ->> 'deliveredSeq')::bigint as delivered, (m.data ->> 'readSeq')::bigint as read
            )
            select id, delivered, read from moved
            union all
            select m.id, null, null from {MessagingServiceExtensions.Schema}.mt_doc_membership m
            where m.id = any($1) and m.id not in (select id from locked)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = moving.Keys.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = moving.Keys.Select(key => highest[key]).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (reader.IsDBNull(1))
                busy.Add(id);
            else
                moved.Add(moving[id] with { DeliveredSeq = reader.GetInt64(1), ReadSeq = reader.GetInt64(2) });
        }
        return busy;
    }
}
