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
/// few reads and a commit per member; each moved cursor is then told as <c>POST .../receipts</c> tells it. An item for a
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

        var moved = new List<Membership>(moving.Count);
        await using (var command = dataSource.CreateCommand($"""
            update {MessagingServiceExtensions.Schema}.mt_doc_membership m
            set data = m.data || jsonb_build_object('deliveredSeq', v.seq)
            from unnest($1::text[], $2::bigint[]) as v(id, seq)
            where m.id = v.id and (m.data ->> 'deliveredSeq')::bigint < v.seq
            returning m.id, (m.data ->> 'deliveredSeq')::bigint, (m.data ->> 'readSeq')::bigint
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = moving.Keys.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = moving.Keys.Select(key => highest[key]).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                moved.Add(moving[reader.GetString(0)] with { DeliveredSeq = reader.GetInt64(1), ReadSeq = reader.GetInt64(2) });
        }

        var privacy = (await session.LoadManyAsync<UserPrivacy>(cancellationToken,
                moved.Where(m => Receipts.ToOthers(conversations[m.ConversationId], m)).Select(m => m.UserId).Distinct()))
            .ToDictionary(p => p.Id);
        foreach (var member in moved)
            Receipts.Tell(receipts, conversations[member.ConversationId], member, privacy.GetValueOrDefault(member.UserId));
    }
}
