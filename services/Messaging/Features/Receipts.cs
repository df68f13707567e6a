using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record ReceiptsRequest(long? Delivered, long? Read);

public sealed record ReceiptsDto(Guid ConversationId, long Delivered, long Read);

public sealed record MarkUnreadRequest(long? FromSeq);

public sealed record MessageReceiptsDto(Guid MessageId, long Seq, bool Sent, int DeliveredTo, int ReadBy, int Recipients);

public static class Receipts
{
    /// <summary>Cursors only move forward, never past the log's end; reading implies delivery.</summary>
    public static DomainError? Validate(ReceiptsRequest request, long lastSeq)
    {
        if (request.Delivered is null && request.Read is null)
            return DomainError.Invalid("Give delivered and/or read: the seq up to which messages arrived or were read.");
        if (request.Delivered is < 0 || request.Read is < 0)
            return DomainError.Invalid("Receipt seqs are zero or more.");
        if (request.Delivered > lastSeq || request.Read > lastSeq)
            return DomainError.Invalid($"The conversation's log ends at seq {lastSeq}.");
        return null;
    }

    public static void MapReceipts(this RouteGroupBuilder group)
    {
        group.MapPost("/{id:guid}/receipts", Move).WithName("MoveReceipts");
        group.MapPost("/{id:guid}/unread", MarkUnread).WithName("MarkUnread");
        group.MapGet("/{id:guid}/messages/{messageId:guid}/receipts", ForMessage).WithName("GetMessageReceipts");
    }

    private static async Task<Results<Ok<ReceiptsDto>, ProblemHttpResult>> Move(
        Guid id, ReceiptsRequest request, HttpContext http, IDocumentSession session, NpgsqlDataSource dataSource, ReceiptPublisher receipts,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var key = Membership.KeyOf(id, userId);
        if (await session.LoadAsync<Membership>(key, cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = await session.LoadAsync<ConversationView>(id, cancellationToken);
        if (Validate(request, conversation!.LastSeq) is { } invalid)
            return Http.Problem(invalid);

        var read = request.Read ?? 0;
        var delivered = Math.Max(request.Delivered ?? 0, read);
        // One conditional update, so concurrent receipts can only move the cursors forward.
        session.QueueSqlCommand(
            $"update {MessagingServiceExtensions.Schema}.mt_doc_membership set data = data " +
            "|| jsonb_build_object('deliveredSeq', greatest((data->>'deliveredSeq')::bigint, ?), 'readSeq', greatest((data->>'readSeq')::bigint, ?)) where id = ?",
            delivered, read, key);
        await session.SaveChangesAsync(cancellationToken);
        var moved = (await session.LoadAsync<Membership>(key, cancellationToken))!;
        if (moved.DeliveredSeq != member.DeliveredSeq || moved.ReadSeq != member.ReadSeq)
            await TellAsync(dataSource, receipts,
                [new CursorMove(conversation, member, moved, ToOthers(conversation, moved) ? await session.LoadAsync<UserPrivacy>(userId, cancellationToken) : null)],
                cancellationToken);
        return TypedResults.Ok(new ReceiptsDto(id, moved.DeliveredSeq, moved.ReadSeq));
    }

    /// <summary>Whether others see the member's receipts (so the member's privacy decides what they see).</summary>
    public static bool ToOthers(ConversationView conversation, Membership member) =>
        conversation.Kind != ConversationKind.Channel && !member.Requested;

    /// <summary>A member's cursors before and after a move, with the member's privacy (null: none, or nobody else is told).</summary>
    public sealed record CursorMove(ConversationView Conversation, Membership Before, Membership Moved, UserPrivacy? Privacy);

    /// <summary>
    /// Tells each move (<see cref="Tell"/>), the senders each one concerns found in one query for them all.
    /// </summary>
    public static async Task TellAsync(NpgsqlDataSource dataSource, ReceiptPublisher receipts, IReadOnlyList<CursorMove> moves, CancellationToken cancellationToken)
    {
        var toOthers = moves.Where(move => ToOthers(move.Conversation, move.Moved)).ToList();
        var senders = await SendersAsync(dataSource, toOthers.Select(move =>
        {
            var (after, through) = Covered(move.Before, move.Moved);
            return (move.Conversation.Id, after, through);
        }).ToList(), cancellationToken);
        // Moves told to nobody else (channels, requests) concern no sender.
        var next = 0;
        foreach (var move in moves)
            Tell(receipts, move.Conversation, move.Before, move.Moved, move.Privacy,
                ToOthers(move.Conversation, move.Moved) ? senders[next++] : new Dictionary<Guid, long>());
    }

    /// <summary>
    /// Publishes a member's moved cursors to whom they concern: the senders of the messages the cursors now cover (their
    /// messages' "delivered" and "read" marks change; <paramref name="senders"/>, from <see cref="SendersAsync"/>, or null
    /// when the range was too long to look at: then every member), and, when the read cursor moved, the member's own
    /// devices (which follow it). Nobody else: in a group of a thousand, a delivered cursor told to every member was a
    /// thousand pushes per member per message.
    /// </summary>
    public static void Tell(
        ReceiptPublisher receipts, ConversationView conversation, Membership before, Membership moved, UserPrivacy? privacy,
        IReadOnlyDictionary<Guid, long>? senders)
    {
        var (id, userId) = (conversation.Id, moved.UserId);
        var readMoved = moved.ReadSeq > before.ReadSeq;
        // Those with a message after the given seq, other than the member (null: everyone).
        List<Guid>? SendersAfter(long seq) => senders?.Where(s => s.Value > seq && s.Key != userId).Select(s => s.Key).ToList();
        // Channels, and a message request not yet accepted: nobody else's business.
        if (!ToOthers(conversation, moved))
        {
            if (readMoved)
                receipts.Changed(id, userId, moved.DeliveredSeq, moved.ReadSeq, ownDevicesOnly: true);
        }
        else if (privacy is { ReadReceipts: false })
        {
            // Read receipts off: others learn of delivery only (the senders of what was newly delivered: nothing of when
            // the member read); the reader's own devices learn both.
            var delivered = SendersAfter(before.DeliveredSeq);
            if (moved.DeliveredSeq > before.DeliveredSeq && delivered is not { Count: 0 })
                receipts.Changed(id, userId, moved.DeliveredSeq, null, ownDevicesOnly: false, delivered);
            if (readMoved)
                receipts.Changed(id, userId, moved.DeliveredSeq, moved.ReadSeq, ownDevicesOnly: true);
        }
        else
        {
            var to = SendersAfter(Covered(before, moved).After);
            if (readMoved)
                to?.Add(userId);
            if (to is not { Count: 0 })
                receipts.Changed(id, userId, moved.DeliveredSeq, moved.ReadSeq, ownDevicesOnly: false, to);
        }
    }

    /// <summary>
    /// The seqs whose marks a move of the member's cursors changes: after the lower of the cursors that moved, through the
    /// higher cursor (reading implies delivery, so the read cursor is never ahead of the delivered one).
    /// </summary>
    public static (long After, long Through) Covered(Membership before, Membership moved) =>
        (moved.ReadSeq > before.ReadSeq ? before.ReadSeq : before.DeliveredSeq, Math.Max(moved.DeliveredSeq, moved.ReadSeq));

    /// <summary>
    /// A longer range is not looked at (a member back after a long time, in a busy conversation): its receipt goes to every
    /// member, as all receipts once did, rather than reading thousands of messages for it.
    /// </summary>
    public const int MaxSendersRange = 1000;

    /// <summary>
    /// The senders of the messages in each range of seqs (<c>after</c> excluded, <c>through</c> included), each with the
    /// highest seq they sent there, in one query on the messages' <c>(conversation_id, seq)</c> index: whom a receipt
    /// covering the range concerns. Null for a range longer than <see cref="MaxSendersRange"/>.
    /// </summary>
    public static async Task<IReadOnlyList<Dictionary<Guid, long>?>> SendersAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<(Guid ConversationId, long After, long Through)> ranges, CancellationToken cancellationToken)
    {
        var senders = ranges.Select(range => range.Through - range.After > MaxSendersRange ? null : new Dictionary<Guid, long>()).ToList();
        var asked = Enumerable.Range(0, ranges.Count).Where(i => senders[i] is not null && ranges[i].Through > ranges[i].After).ToList();
        if (asked.Count == 0)
            return senders;
        await using var command = dataSource.CreateCommand($"""
            select r.i, m.data ->> 'senderId', max(m.seq)
            from unnest($1::int[], $2::uuid[], $3::bigint[], $4::bigint[]) as r(i, conversation_id, after_seq, through_seq)
            join {MessagingServiceExtensions.Schema}.mt_doc_message m
              on m.conversation_id = r.conversation_id and m.seq > r.after_seq and m.seq <= r.through_seq
            group by r.i, m.data ->> 'senderId'
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = asked.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = asked.Select(i => ranges[i].ConversationId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = asked.Select(i => ranges[i].After).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = asked.Select(i => ranges[i].Through).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            if (!reader.IsDBNull(1))
                senders[reader.GetInt32(0)]![Guid.Parse(reader.GetString(1))] = reader.GetInt64(2);
        return senders;
    }

    /// <summary>
    /// Marks the conversation unread from <c>fromSeq</c> on: the caller's read cursor moves back to just before it (never
    /// before they joined; the delivered cursor stays). Only the caller's own devices are told; nobody else sees a read
    /// receipt move back.
    /// </summary>
    private static async Task<Results<Ok<ReceiptsDto>, ProblemHttpResult>> MarkUnread(
        Guid id, MarkUnreadRequest request, HttpContext http, IDocumentSession session, ReceiptPublisher receipts, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var key = Membership.KeyOf(id, userId);
        if (await session.LoadAsync<Membership>(key, cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = await session.LoadAsync<ConversationView>(id, cancellationToken);
        if (request.FromSeq is not { } from || from < 1 || from > conversation!.LastSeq)
            return Http.Invalid($"fromSeq is the seq of the first event to show as unread: 1 to {conversation?.LastSeq}.");
        var read = Math.Max(member.JoinedSeq, from - 1);
        if (read >= member.ReadSeq)
            return TypedResults.Ok(new ReceiptsDto(id, member.DeliveredSeq, member.ReadSeq));
        session.QueueSqlCommand(
            $"update {MessagingServiceExtensions.Schema}.mt_doc_membership set data = data " +
            "|| jsonb_build_object('readSeq', least((data->>'readSeq')::bigint, ?)) where id = ?",
            read, key);
        await session.SaveChangesAsync(cancellationToken);
        var moved = (await session.LoadAsync<Membership>(key, cancellationToken))!;
        receipts.Changed(id, userId, moved.DeliveredSeq, moved.ReadSeq, ownDevicesOnly: true);
        return TypedResults.Ok(new ReceiptsDto(id, moved.DeliveredSeq, moved.ReadSeq));
    }

    /// <summary>Sent / delivered to N / read by N, for direct and group conversations.</summary>
    private static async Task<Results<Ok<MessageReceiptsDto>, ProblemHttpResult>> ForMessage(
        Guid id, Guid messageId, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = await session.LoadAsync<ConversationView>(id, cancellationToken);
        if (conversation!.Kind == ConversationKind.Channel)
            return Http.Problem(DomainError.Conflict("Per-message receipts are kept for direct and group conversations, not channels."));
        var message = await session.LoadAsync<MessageView>(messageId, cancellationToken);
        if (message is null || message.ConversationId != id)
            return Http.Problem(DomainError.MessageNotFound);

        var others = await session.Query<Membership>()
            .Where(m => m.ConversationId == id && m.Active && m.UserId != message.SenderId)
            .Select(m => new { m.UserId, m.DeliveredSeq, m.ReadSeq, m.Requested })
            .ToListAsync(cancellationToken);
        // A recipient who has not accepted a message request shows nothing: counted as a recipient only.
        others = others.Select(m => m.Requested ? m with { DeliveredSeq = 0, ReadSeq = 0 } : m).ToList();
        // Readers whose read receipts are off are not counted as having read (they still count as delivered to).
        var readers = others.Where(m => m.ReadSeq >= message.Seq).Select(m => m.UserId).ToArray();
        var hidden = readers.Length == 0 ? [] : (await session.LoadManyAsync<UserPrivacy>(cancellationToken, readers))
            .Where(p => !p.ReadReceipts).Select(p => p.Id).ToHashSet();
        return TypedResults.Ok(new MessageReceiptsDto(message.Id, message.Seq, true,
            others.Count(m => m.DeliveredSeq >= message.Seq), readers.Count(reader => !hidden.Contains(reader)), others.Count));
    }
}
