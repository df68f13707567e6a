using System.Globalization;
using System.Text;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>A part of the message's text around what matched; <see cref="Matches"/> are UTF-16 ranges of <see cref="Text"/>.</summary>
public sealed record SearchHighlight(string Text, IReadOnlyList<HighlightRange> Matches);

public sealed record HighlightRange(int Start, int Length);

public sealed record SearchHit(Guid ConversationId, MessageDto Message, IReadOnlyList<SearchHighlight> Highlights);

/// <summary>
/// <c>GET /api/v1/search/messages</c>: full-text search over the messages of the caller's conversations, best match
/// first.
/// <para>
/// The index is <see cref="SearchIndex"/>: a stored <c>tsvector</c> per message holding its current text read with the
/// <c>english</c> configuration (stemmed: "meeting" finds "meetings") and with <c>simple</c> (every word as written,
/// whatever the language, stop words included: "the who" still finds something), GIN-indexed. A message matches if
/// either reading of the query matches; an exact word ranks above a stem (it matches both halves). The vector is written
/// by a trigger in the same transaction as every edit, delete and retention erasure (a deleted message's row goes), so
/// the index never holds text that is gone. Only the newest <see cref="MaxCandidates"/> matches are ranked.
/// </para>
/// <para>
/// A phrase (<c>"a b"</c>) is first looked up by its word pairs (<see cref="PairFilter"/>): GIN keeps no positions, so
/// without them every row holding all the phrase's words would be read and checked; with them, only rows holding the
/// pairs are, nearly all of them true matches. Ranking reads the narrow index rows only; the message documents are read
/// for the page alone.
/// </para>
/// </summary>
public static class Search
{
    public const int MaxQueryLength = 256;
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    /// <summary>Matches ranked per query: the newest this many (older ones are found by narrowing: a conversation, a sender, a time range).</summary>
    public const int MaxCandidates = 1000;

    // Marks ts_headline puts around matches: control characters, which message text never holds (MessageText.Normalize).
    private const char Start = '\u0002';
    private const char Stop = '\u0003';
    private const char Between = '\u0001';

    private sealed record Row(MessageView Message, float Rank, string? Headline);

    public static void MapSearch(this RouteGroupBuilder group) =>
        group.MapGet("/messages", Handle).WithName("SearchMessages");

    private static async Task<Results<Ok<Page<SearchHit>>, ProblemHttpResult>> Handle(
        string? q, Guid? conversationId, Guid? senderId, DateTimeOffset? after, DateTimeOffset? before, string? cursor, int? limit,
        HttpContext http, IQuerySession session, SearchIndex index, CancellationToken cancellationToken)
    {
        var query = MessageText.Normalize(q ?? "").Trim();
        if (query.Length == 0)
            return Http.Invalid("q is required: the words to look for.");
        if (query.Length > MaxQueryLength)
            return Http.Invalid($"q is longer than {MaxQueryLength} characters.");
        if (after is not null && before is not null && after >= before)
            return Http.Invalid("after must be earlier than before.");
        (float Rank, Guid Id)? from = null;
        if (cursor is not null)
        {
            if (!TryReadCursor(cursor, out var rank, out var id))
                return Http.Invalid("cursor is not one this endpoint returned.");
            from = (rank, id);
        }
        var size = Math.Clamp(limit ?? DefaultPageSize, 1, MaxPageSize);
        var userId = http.User.UserId();
        if (conversationId is { } only && await session.MembershipAsync(only, userId, cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);

        if (!await index.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken))
            return Http.Problem(new DomainError(StatusCodes.Status503ServiceUnavailable, "Search is starting", "The search index is being created; try again shortly.")
            { RetryAfter = TimeSpan.FromSeconds(5) }, http);
        await session.Database.EnsureStorageExistsAsync(typeof(Membership), cancellationToken);
        var (english, simple) = await ReadingsAsync(session, query, cancellationToken);
        if (english.Length == 0 && simple.Length == 0)
            return Http.Invalid("q holds no word to search for.");

        var pairs = index.PairsReady ? PairFilter(english, simple) : null;
        var (sql, parameters) = BuildQuery(query, userId, conversationId, senderId, after, before, from, size + 1, pairs);
        var rows = await session.QueryAsync<Row>(sql, cancellationToken, parameters);
        var page = rows.Take(size).ToList();
        var items = page.Select(r => new SearchHit(r.Message.ConversationId, MessageDtos.ToDto(r.Message), Highlights(r.Headline))).ToList();
        return TypedResults.Ok(new Page<SearchHit>(items, rows.Count > size ? WriteCursor(page[^1].Rank, page[^1].Message.Id) : null));
    }

    /// <summary>The SQL (Marten's <c>?</c> placeholders) and its parameters; the query-plan test explains the same statement.</summary>
    public static (string Sql, object[] Parameters) BuildQuery(
        string query, Guid userId, Guid? conversationId, Guid? senderId, DateTimeOffset? after, DateTimeOffset? before, (float Rank, Guid Id)? from, int take,
        string? pairs = null)
    {
        const string schema = MessagingServiceExtensions.Schema;
        // One query matching either configuration's reading of the words, against the stored vector that holds both.
        const string tsquery = "(websearch_to_tsquery('english'::regconfig, ?) || websearch_to_tsquery('simple'::regconfig, ?))";
        var parameters = new List<object> { query, query };
        var where = new StringBuilder($"s.vector @@ {tsquery}");
        if (pairs is not null)
        {
            // Necessary for a match (the phrase's word pairs), and rare: the index finds these rows first.
            where.Append(" and s.vector @@ ?::tsquery");
            parameters.Add(pairs);
        }
        // Only conversations the caller belongs to now; a former member's old conversations are out of search.
        where.Append($" and s.conversation_id in (select m.conversation_id from {schema}.mt_doc_membership m where m.user_id = ? and (m.data ->> 'active')::boolean)");
        parameters.Add(userId);
        if (conversationId is { } conversation)
        {
            where.Append(" and s.conversation_id = ?");
            parameters.Add(conversation);
        }
        if (senderId is { } sender)
        {
            where.Append(" and s.sender_id = ?");
            parameters.Add(sender);
        }
        if (after is { } since)
        {
            where.Append(" and s.created_at > ?");
            parameters.Add(since.ToUniversalTime());
        }
        if (before is { } until)
        {
            where.Append(" and s.created_at < ?");
            parameters.Add(until.ToUniversalTime());
        }
        var keyset = "";
        var keysetParameters = new List<object>();
        if (from is { } start)
        {
            keyset = "where (r.rank, r.id) < (?::float4, ?)";
            keysetParameters.Add(start.Rank);
            keysetParameters.Add(start.Id);
        }
        // Ranked among the newest MaxCandidates matches only (a frequent word matches a large share of everything: ranking
        // all of it would cost in proportion). ts_rank reads the stored vector of the narrow index row; the message
        // documents are read for the page only (a deleted or erased message has no index row: the trigger removes it in
        // the same transaction; the check below only restates it). Highlights only for the page: ts_headline re-reads
        // the text, on at most `take` rows, with the english configuration unless the query has no english word (only
        // stop words), then simple.
        var sql = $"""
            select jsonb_build_object('message', x.data, 'rank', h.rank, 'headline',
                ts_headline(case when numnode(websearch_to_tsquery('english'::regconfig, ?)) > 0 then 'english' else 'simple' end::regconfig,
                  x.data ->> 'text',
                  case when numnode(websearch_to_tsquery('english'::regconfig, ?)) > 0 then websearch_to_tsquery('english'::regconfig, ?) else websearch_to_tsquery('simple'::regconfig, ?) end,
                  'StartSel={Start}, StopSel={Stop}, FragmentDelimiter={Between}, MaxFragments=3, MaxWords=24, MinWords=8, HighlightAll=false'))
            from (
              select r.id, r.rank from (
                select c.id, ts_rank(c.vector, {tsquery})::float4 as rank
                from (select s.id, s.vector from {schema}.{SearchIndex.Table} s where {where} order by s.created_at desc limit {MaxCandidates}) c) r
              {keyset}
              order by r.rank desc, r.id desc
              limit ?) h
            join {schema}.mt_doc_message x on x.id = h.id
            where not (x.data ->> 'deleted')::boolean
            order by h.rank desc, h.id desc
            """;
        object[] all = [query, query, query, query, query, query, .. parameters, .. keysetParameters, take];
        return (sql, all);
    }

    /// <summary>
    /// The query as each configuration reads it (<c>tsquery</c> text; empty when it holds no word there).
    /// websearch_to_tsquery never fails on syntax; a query of punctuation alone is empty under both, which matches
    /// nothing: the caller says so instead of answering an empty page.
    /// </summary>
    private static async Task<(string English, string Simple)> ReadingsAsync(IQuerySession session, string query, CancellationToken cancellationToken)
    {
        var texts = (await session.QueryAsync<string>(
            "select jsonb_build_array(websearch_to_tsquery('english'::regconfig, ?)::text, websearch_to_tsquery('simple'::regconfig, ?)::text)::text",
            cancellationToken, query, query)).Single();
        var both = System.Text.Json.JsonSerializer.Deserialize<string[]>(texts)!;
        return (both[0], both[1]);
    }

    /// <summary>
    /// The word pairs a match must hold, as a <c>tsquery</c> on the stored pair lexemes (<see cref="SearchIndex"/>), or
    /// null when the query has none to require. A message matches if either reading (english, simple) matches; so each
    /// non-empty reading must require pairs, and the filter is their OR (each the AND of its pairs). A reading requires
    /// the pair <c>"a b"</c> for each <c>'a' &lt;-&gt; 'b'</c> in it when it is only ANDs of words and phrases (any OR,
    /// NOT, grouping, prefix or weight: no filter, the plain plan answers), and only pairs short enough to be stored.
    /// </summary>
    public static string? PairFilter(string english, string simple)
    {
        var sides = new List<string>();
        foreach (var reading in new[] { english, simple })
        {
            if (reading.Trim().Length == 0)
                continue; // Matches nothing: the other reading decides.
            if (Pairs(reading) is not { Count: > 0 } pairs)
                return null;
            sides.Add("(" + string.Join(" & ", pairs.Select(Quote)) + ")");
        }
        return sides.Count == 0 ? null : string.Join(" | ", sides.Distinct());
    }

    // The tsquery text as PostgreSQL writes it: 'lexeme' (a quote doubled inside, a backslash doubled), & | ! ( ) and
    // phrase operators <-> or <N>, and :* or :AB after a lexeme for prefixes and weights.
    private static List<string>? Pairs(string tsquery)
    {
        var lexemes = new List<string>();
        var operators = new List<string>();
        var i = 0;
        while (i < tsquery.Length)
        {
            var c = tsquery[i];
            if (c == ' ')
                i++;
            else if (c == '\'')
            {
                var lexeme = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= tsquery.Length)
                        return null;
                    if (tsquery[i] == '\'' && i + 1 < tsquery.Length && tsquery[i + 1] == '\'')
                    {
                        lexeme.Append('\'');
                        i += 2;
                    }
                    else if (tsquery[i] == '\\' && i + 1 < tsquery.Length)
                    {
                        lexeme.Append(tsquery[i + 1]);
                        i += 2;
                    }
                    else if (tsquery[i] == '\'')
                    {
                        i++;
                        break;
                    }
                    else
                        lexeme.Append(tsquery[i++]);
                }
                if (lexemes.Count != operators.Count)
                    return null;
                lexemes.Add(lexeme.ToString());
            }
            else if (c == '&')
            {
                operators.Add("&");
                i++;
            }
            else if (c == '<')
            {
                var end = tsquery.IndexOf('>', i);
                if (end < 0)
                    return null;
                operators.Add(tsquery[i..(end + 1)]);
                i = end + 1;
            }
            else
                return null; // | ! ( ) :* and anything else: not a plain conjunction.
        }
        if (lexemes.Count == 0 || lexemes.Count != operators.Count + 1)
            return null;
        var pairs = new List<string>();
        for (var k = 0; k < operators.Count; k++)
            if (operators[k] == "<->")
            {
                var pair = lexemes[k] + " " + lexemes[k + 1];
                if (Encoding.UTF8.GetByteCount(pair) > SearchIndex.MaxPairBytes)
                    return null;
                pairs.Add(pair);
            }
        return pairs.Distinct().ToList();
    }

    private static string Quote(string lexeme) => "'" + lexeme.Replace("\\", "\\\\").Replace("'", "''") + "'";

    /// <summary>Splits ts_headline's output into fragments and the ranges it marked.</summary>
    public static IReadOnlyList<SearchHighlight> Highlights(string? headline)
    {
        if (string.IsNullOrEmpty(headline))
            return [];
        var fragments = new List<SearchHighlight>();
        foreach (var fragment in headline.Split(Between))
        {
            var text = new StringBuilder();
            var matches = new List<HighlightRange>();
            var open = -1;
            foreach (var c in fragment)
            {
                if (c == Start)
                    open = text.Length;
                else if (c == Stop && open >= 0)
                {
                    if (text.Length > open)
                        matches.Add(new HighlightRange(open, text.Length - open));
                    open = -1;
                }
                else
                    text.Append(c);
            }
            var trimmed = text.ToString();
            if (trimmed.Trim().Length > 0)
                fragments.Add(new SearchHighlight(trimmed, matches));
        }
        return fragments;
    }

    private static string WriteCursor(float rank, Guid id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(
            $"{BitConverter.SingleToInt32Bits(rank).ToString(CultureInfo.InvariantCulture)}:{id:N}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryReadCursor(string cursor, out float rank, out Guid id)
    {
        rank = 0;
        id = Guid.Empty;
        if (cursor.Length > 100)
            return false;
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '='))).Split(':');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var bits)
                || !Guid.TryParseExact(parts[1], "N", out id))
                return false;
            rank = BitConverter.Int32BitsToSingle(bits);
            return float.IsFinite(rank) && rank >= 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
