using System.Globalization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record InboxRow(
    Guid Id,
    ConversationKind Kind,
    string? Title,
    MemberRole Role,
    int UnreadCount,
    int MentionCount,
    MessagePreview? LastMessage,
    DateTimeOffset LastActivityAt,
    long LastSeq,
    long ReadSeq,
    int MemberCount,
    string State);

public static class ListConversations
{
    private sealed record Row(ConversationView Conversation, Membership Membership, int Unread, int Mentions);

    public static void MapListConversations(this RouteGroupBuilder group) =>
        group.MapGet("/", Handle).WithName("ListConversations");

    /// <summary>
    /// My conversations, newest activity first, by keyset on (last activity, id). Unread and mention counts look
    /// at no more than <see cref="MessagingOptions.UnreadCountCap"/> messages each, so a page costs the same
    /// whatever the length of the histories.
    /// </summary>
    private static async Task<Results<Ok<Page<InboxRow>>, ProblemHttpResult>> Handle(
        string? cursor, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var (before, beforeId) = (DateTimeOffset.MaxValue, Guid.Empty);
        if (cursor is not null && !TryReadCursor(cursor, out before, out beforeId))
            return Http.Invalid("cursor is not one this endpoint returned.");
        var size = Math.Min(Http.PageSize(limit, options.Value), 200);
        var cap = options.Value.UnreadCountCap;
        const string schema = MessagingServiceExtensions.Schema;
        // The raw SQL below reads tables Marten creates only when a document of theirs is first written: on a fresh
        // database the inbox answered 500 until then. (Not at startup: a service starts, unready, without PostgreSQL.)
        foreach (var table in new[] { typeof(ConversationView), typeof(Membership), typeof(MessageView) })
            await session.Database.EnsureStorageExistsAsync(table, cancellationToken);

        var rows = await session.QueryAsync<Row>($$"""
            select jsonb_build_object(
              'conversation', c.data,
              'membership', m.data,
              'unread', (select count(*) from (select 1 from {{schema}}.mt_doc_message x
                  where x.conversation_id = m.conversation_id and x.seq > (m.data->>'readSeq')::bigint
                    and (x.data->>'senderId')::uuid <> m.user_id and not (x.data->>'deleted')::boolean limit ?) u),
              'mentions', (select count(*) from (select 1 from {{schema}}.mt_doc_message x
                  where x.conversation_id = m.conversation_id and x.seq > (m.data->>'readSeq')::bigint
                    and jsonb_exists(x.data->'mentions', ?) and not (x.data->>'deleted')::boolean limit ?) u))
            from {{schema}}.mt_doc_membership m
            join {{schema}}.mt_doc_conversation c on c.id = m.conversation_id
            where m.user_id = ? and (m.data->>'active')::boolean
              and ((c.data->>'lastActivityAt')::timestamptz, c.id) < (?, ?)
            order by (c.data->>'lastActivityAt')::timestamptz desc, c.id desc
            limit ?
            """, cancellationToken, cap, userId.ToString(), cap, userId, before, beforeId == Guid.Empty && cursor is null ? MaxGuid : beforeId, size + 1);

        var items = rows.Take(size).Select(r => new InboxRow(
            r.Conversation.Id, r.Conversation.Kind, r.Conversation.Title, r.Membership.Role, r.Unread, r.Mentions,
            r.Conversation.LastMessage, r.Conversation.LastActivityAt, r.Conversation.LastSeq, r.Membership.ReadSeq, r.Conversation.MemberCount,
            r.Membership.Requested ? "requested" : "active")).ToList();
        var next = rows.Count > size ? WriteCursor(items[^1].LastActivityAt, items[^1].Id) : null;
        return TypedResults.Ok(new Page<InboxRow>(items, next));
    }

    private static readonly Guid MaxGuid = new("ffffffff-ffff-ffff-ffff-ffffffffffff");

    private static string WriteCursor(DateTimeOffset at, Guid id) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{at.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{id:N}")).TrimEnd('=');

    private static bool TryReadCursor(string cursor, out DateTimeOffset at, out Guid id)
    {
        at = default;
        id = default;
        try
        {
            var padded = cursor.PadRight(cursor.Length + (4 - cursor.Length % 4) % 4, '=');
            var parts = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(':');
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) || !Guid.TryParseExact(parts[1], "N", out id))
                return false;
            at = new DateTimeOffset(ticks, TimeSpan.Zero);
            return true;
        }
        catch (Exception exception) when (exception is FormatException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }
}
