using System.Text.Json;
using Marten;
using MassTransit;
using Platform.Contracts.Identity;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Consumers;

/// <summary>
/// A deleted account (<see cref="UserDeleted"/>) is erased from Messaging: in every conversation the user's messages
/// become tombstones exactly as a delete makes them (<see cref="MessageDeleted"/>: text, mentions, URLs and link previews
/// gone from the read models, the search index, the stored events and unpublished outbox entries), the user's reactions
/// are removed and the user leaves; then their memberships (read cursors), saved messages, thread follows, sent-message
/// keys, blocks and privacy setting are deleted, reports they filed lose reporter and reason, and the directory keeps a
/// tombstone. Idempotent: a second delivery finds nothing left to do.
/// </summary>
public sealed class UserErasureConsumer(IDocumentStore store, ConversationWriter writer, TimeProvider time, ILogger<UserErasureConsumer> logger)
    : IConsumer<UserDeleted>
{
    /// <summary>Events per conversation per transaction; a prolific user's conversation takes several.</summary>
    public const int BatchSize = 500;

    public Task Consume(ConsumeContext<UserDeleted> context) => EraseAsync(context.Message.UserId, context.CancellationToken);

    public async Task EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        List<Guid> conversations;
        await using (var query = store.QuerySession())
        {
            var memberOf = await query.Query<Membership>().Where(m => m.UserId == userId).Select(m => m.ConversationId).ToListAsync(cancellationToken);
            var wroteIn = await query.Query<MessageView>().Where(m => m.SenderId == userId && !m.Deleted).Select(m => m.ConversationId).Distinct()
                .ToListAsync(cancellationToken);
            conversations = memberOf.Concat(wroteIn).Distinct().ToList();
        }

        var erased = 0;
        foreach (var conversationId in conversations)
        {
            while (true)
            {
                var result = await writer.WriteAsync(conversationId, context => DecideAsync(context, userId, now, cancellationToken), cancellationToken);
                erased += result.Appended.Count;
                if (result.Error is not null || result.Appended.Count < BatchSize)
                    break;
            }
        }

        await using var session = store.LightweightSession();
        var anonymous = Guid.Empty.ToString();
        var schema = store.Options.Events.DatabaseSchemaName;
        // Reports the user filed stay in the review queue, without who filed them or why; likewise in the stored events.
        foreach (var report in await session.Query<MessageReport>().Where(r => r.ReportedBy == userId).ToListAsync(cancellationToken))
            session.Store(report with { ReportedBy = Guid.Empty, Reason = "" });
        session.QueueSqlCommand(
            $"update {schema}.mt_events set data = data || jsonb_build_object('reportedBy', ?::text, 'reason', '') where data ->> 'reportedBy' = ? and data ->> 'reportId' is not null",
            anonymous, userId.ToString());
        session.DeleteWhere<Membership>(m => m.UserId == userId);
        session.DeleteWhere<SavedMessage>(m => m.UserId == userId);
        session.DeleteWhere<Domain.ScheduledMessage>(m => m.SenderId == userId);
        session.DeleteWhere<ThreadFollow>(f => f.UserId == userId);
        session.DeleteWhere<ConversationBan>(b => b.UserId == userId);
        session.DeleteWhere<UserBlock>(b => b.OwnerId == userId || b.BlockedUserId == userId);
        session.Delete<UserPrivacy>(userId);
        foreach (var conversationId in conversations)
        {
            var prefix = $"{conversationId:N}:{userId:N}:";
            session.DeleteWhere<ClientMessageKey>(k => k.Id.StartsWith(prefix));
        }
        session.Store(new UserDirectoryEntry { Id = userId, Username = "deleted-" + userId.ToString("N"), DisplayName = "Deleted user", Deleted = true });
        await session.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Erased deleted user {UserId}: {Events} events in {Conversations} conversations", userId, erased, conversations.Count);
    }

    /// <summary>The next batch of tombstones, reaction removals and the leave for one conversation; nothing once all are done.</summary>
    private static async Task<Decision> DecideAsync(WriteContext context, Guid userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var conversationId = context.Conversation.Id;
        var events = new List<object>();
        var own = await context.Session.Query<MessageView>()
            .Where(m => m.ConversationId == conversationId && m.SenderId == userId && !m.Deleted)
            .OrderBy(m => m.Seq).Select(m => m.Id).Take(BatchSize).ToListAsync(cancellationToken);
        foreach (var messageId in own)
            if (await context.Message(messageId, cancellationToken) is { Deleted: false })
                events.Add(new MessageDeleted(messageId, userId, now, DeleteReasons.AccountDeleted));

        var schema = context.Session.DocumentStore.Options.Events.DatabaseSchemaName;
        var reacted = await context.Session.QueryAsync<MessageView>(
            $"select data from {schema}.mt_doc_message where conversation_id = ? and data -> 'reactions' @> ?::jsonb limit {BatchSize}",
            cancellationToken, conversationId, JsonSerializer.Serialize(new[] { new { userIds = new[] { userId } } }));
        foreach (var message in reacted)
        {
            if (events.Count >= BatchSize)
                break;
            if (message.Deleted || message.SenderId == userId)
                continue;
            foreach (var reaction in message.Reactions.Where(r => r.UserIds.Contains(userId)))
                events.Add(new ReactionRemoved(message.Id, reaction.Emoji, userId, now));
        }

        if (events.Count < BatchSize && await context.Member(userId, cancellationToken) is { Active: true })
            events.Add(new MemberLeft(userId, userId, now));
        return new Decision(events);
    }
}
