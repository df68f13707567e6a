using System.Text.Json;
using Marten;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// <c>GET /internal/v1/export</c>: Messaging's part of the caller's data export (Identity asks with the user's own token;
/// not routed by the Gateway). Only the user's own data: the messages they wrote (text, conversation id, seq, times),
/// their reactions, memberships and saved messages. Other users' messages appear only as ids.
/// </summary>
public static class UserExport
{
    public static void MapUserExport(this WebApplication app) =>
        app.MapGet("/internal/v1/export", ExportAsync).RequireAuthorization().ExcludeFromDescription();

    private static async Task<IResult> ExportAsync(HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var me = http.User.UserId();
        var messages = await session.Query<MessageView>().Where(m => m.SenderId == me && !m.Deleted).OrderBy(m => m.CreatedAt).ToListAsync(cancellationToken);
        var schema = session.DocumentStore.Options.Events.DatabaseSchemaName;
        var reacted = await session.QueryAsync<MessageView>(
            $"select data from {schema}.mt_doc_message where data -> 'reactions' @> ?::jsonb",
            cancellationToken, JsonSerializer.Serialize(new[] { new { userIds = new[] { me } } }));
        var memberships = await session.Query<Membership>().Where(m => m.UserId == me).ToListAsync(cancellationToken);
        var saved = await session.Query<SavedMessage>().Where(s => s.UserId == me).ToListAsync(cancellationToken);
        return TypedResults.Ok(new
        {
            messages = messages.Select(m => new
            {
                m.Id, m.ConversationId, m.Seq, m.Text, m.ReplyTo, m.Attachments, m.Edited, m.EditedAt, m.CreatedAt,
            }),
            reactions = reacted.SelectMany(m => m.Reactions.Where(r => r.UserIds.Contains(me))
                .Select(r => new { messageId = m.Id, m.ConversationId, r.Emoji })),
            conversations = memberships.Select(m => new { m.ConversationId, role = m.Role.ToString().ToLowerInvariant(), m.Active, m.JoinedAt }),
            savedMessages = saved.Select(s => new { s.MessageId, s.ConversationId, s.SavedAt }),
        });
    }
}
