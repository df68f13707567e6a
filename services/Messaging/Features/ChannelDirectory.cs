using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record ChannelDirectoryRow(
    Guid Id, string? Title, string? Topic, int MemberCount, DateTimeOffset CreatedAt, DateTimeOffset LastActivityAt, bool IsMember);

/// <summary>
/// <c>GET /api/v1/channels?q=&amp;cursor=</c>: the public channels anyone signed in may find and join (joining is
/// <c>POST /conversations/{id}/members</c> with one's own id). Newest first, by keyset on the id (a version 7 UUID,
/// so in creation order); <c>q</c> matches the title or topic, case-insensitively.
/// </summary>
public static class ChannelDirectory
{
    public const int MaxQueryLength = 100;

    public static void MapChannelDirectory(this RouteGroupBuilder group) =>
        group.MapGet("/", List).WithName("ListPublicChannels");

    private static async Task<Results<Ok<Page<ChannelDirectoryRow>>, ProblemHttpResult>> List(
        string? q, string? cursor, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var query = ConversationRules.CleanText(q)?.Trim() ?? "";
        if (query.Length > MaxQueryLength)
            return Http.Invalid($"q is longer than {MaxQueryLength} characters.");
        Guid? before = null;
        if (cursor is not null)
        {
            if (!Guid.TryParseExact(cursor, "N", out var id))
                return Http.Invalid("cursor is not one this endpoint returned.");
            before = id;
        }
        var size = Math.Min(Http.PageSize(limit, options.Value), 200);
        await session.Database.EnsureStorageExistsAsync(typeof(ConversationView), cancellationToken);

        var where = "where lower(data ->> 'kind') = 'channel' and (data ->> 'isPublic')::boolean";
        var parameters = new List<object>();
        if (query.Length > 0)
        {
            var pattern = "%" + query.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_") + "%";
            where += " and (data ->> 'title' ilike ? or data ->> 'topic' ilike ?)";
            parameters.Add(pattern);
            parameters.Add(pattern);
        }
        if (before is { } last)
        {
            where += " and id < ?";
            parameters.Add(last);
        }
        where += " order by id desc limit ?";
        parameters.Add(size + 1);
        var channels = await session.QueryAsync<ConversationView>(where, cancellationToken, parameters.ToArray());
        var page = channels.Take(size).ToList();
        var memberships = page.Count == 0 ? [] : (await session.LoadManyAsync<Membership>(cancellationToken,
            page.Select(c => Membership.KeyOf(c.Id, userId)).ToArray())).Where(m => m.Active).Select(m => m.ConversationId).ToHashSet();
        var items = page.Select(c => new ChannelDirectoryRow(c.Id, c.Title, c.Topic, c.MemberCount, c.CreatedAt, c.LastActivityAt, memberships.Contains(c.Id))).ToList();
        return TypedResults.Ok(new Page<ChannelDirectoryRow>(items, channels.Count > size ? page[^1].Id.ToString("N") : null));
    }
}
