using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record JoinedConversation(Guid Id, long LastSeq);

public static class JoinedConversations
{
    public static void MapJoinedConversations(this RouteGroupBuilder group) =>
        group.MapGet("/joined", Handle).WithName("ListJoinedConversations");

    /// <summary>
    /// The ids and last seqs of every conversation I am a member of, by id: what a realtime connection subscribes
    /// to. Cheaper than the inbox (no counts, no previews).
    /// </summary>
    private static async Task<Ok<Page<JoinedConversation>>> Handle(Guid? after, int? limit, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var size = Math.Clamp(limit ?? 1000, 1, 5000);
        var from = after ?? Guid.Empty;
        var ids = await session.Query<Membership>()
            .Where(m => m.UserId == userId && m.Active && m.ConversationId > from)
            .OrderBy(m => m.ConversationId)
            .Select(m => m.ConversationId)
            .Take(size + 1)
            .ToListAsync(cancellationToken);
        var page = ids.Take(size).ToArray();
        var conversations = page.Length == 0 ? [] : await session.LoadManyAsync<ConversationView>(cancellationToken, page);
        var items = conversations.OrderBy(c => c.Id).Select(c => new JoinedConversation(c.Id, c.LastSeq)).ToList();
        return TypedResults.Ok(new Page<JoinedConversation>(items, ids.Count > size ? page[^1].ToString() : null));
    }
}
