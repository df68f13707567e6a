using System.Globalization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class ReadLog
{
    public static void MapReadLog(this RouteGroupBuilder group) =>
        group.MapGet("/{id:guid}/events", Handle).WithName("ReadConversationLog");

    /// <summary>
    /// The ordered log after <c>after</c>, the same envelopes the hub pushes; <c>next</c> is the seq to continue
    /// from. Deleted text is gone. Earlier versions of edited messages show only to their author and admins;
    /// others see the current text in every version.
    /// </summary>
    private static async Task<Results<Ok<Page<EventEnvelope>>, ProblemHttpResult>> Handle(
        Guid id, long? after, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        if (after is < 0)
            return Http.Invalid("after is a seq: zero or more.");
        var userId = http.User.UserId();
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var size = Http.PageSize(limit, options.Value);
        var from = after ?? 0;
        var upTo = member.Active ? long.MaxValue : member.LeftSeq ?? 0;

        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.StreamId == id && e.Version > from && e.Version <= upTo)
            .OrderBy(e => e.Version)
            .Take(size + 1)
            .ToListAsync(cancellationToken);
        var page = events.Take(size).ToList();

        var messageIds = page.Select(e => e.Data switch { MessagePosted p => p.MessageId, MessageEdited m => m.MessageId, _ => Guid.Empty })
            .Where(messageId => messageId != Guid.Empty).Distinct().ToArray();
        var messages = messageIds.Length == 0 ? new Dictionary<Guid, MessageView>()
            : (await session.LoadManyAsync<MessageView>(cancellationToken, messageIds)).ToDictionary(m => m.Id);

        // Only a moderator's view depends on the kind (a direct conversation has none): read it only for them.
        var kind = member.IsAdmin && (messages.Values.Any(m => m.Edited) || page.Any(e => e.Data is MessageReported))
            ? (await session.LoadAsync<ConversationView>(id, cancellationToken))?.Kind ?? ConversationKind.Direct
            : ConversationKind.Direct;
        var items = page.Select(e =>
        {
            var data = e.Data;
            MessageView? asPosted = null;
            if (data is MessagePosted posted && messages.TryGetValue(posted.MessageId, out var current))
            {
                asPosted = MessageView.Create(id, e.Version, posted) with { Deleted = current.Deleted, Edited = current.Edited, EditedAt = current.EditedAt };
                if (current.Edited && !CanSeeEarlierVersions(current, userId, member, kind))
                    asPosted = asPosted with { Text = current.Text, Mentions = current.Mentions, Urls = current.Urls };
            }
            else if (data is MessageEdited edited && messages.TryGetValue(edited.MessageId, out var latest) && !CanSeeEarlierVersions(latest, userId, member, kind))
                data = edited with { Text = latest.Text, Mentions = latest.Mentions, Urls = latest.Urls };
            return Envelopes.From(id, e.Version, data, asPosted, moderator: member.Active && member.Moderates(kind));
        }).ToList();
        if (SameForEveryMember(member, messages.Values, page))
            http.Response.Headers[ConversationLogHeaders.SameForEveryMember] = "true";
        return TypedResults.Ok(new Page<EventEnvelope>(items, events.Count > size ? page[^1].Version.ToString(CultureInfo.InvariantCulture) : null));
    }

    // Whether every active member reading from the same position gets this very page, so the Gateway may share it among
    // their connections: not with an edited message (earlier versions show to the author and moderators) or a report
    // (who reported and why show to moderators). Anything added above that depends on the reader must make this false.
    private static bool SameForEveryMember(Membership member, IEnumerable<MessageView> messages, IEnumerable<JasperFx.Events.IEvent> page) =>
        member.Active && !messages.Any(m => m.Edited) && !page.Any(e => e.Data is MessageReported);

    private static bool CanSeeEarlierVersions(MessageView message, Guid userId, Membership member, ConversationKind kind) =>
        message.SenderId == userId || member.Moderates(kind);
}

/// <summary>
/// <c>GET /{id}/seq?at=</c>: the last seq committed at or before a time, as far as the caller may see the log (time
/// travel: a client shows the conversation as it was by reading history up to that seq).
/// </summary>
public static class SeqAt
{
    public static void MapSeqAt(this RouteGroupBuilder group) =>
        group.MapGet("/{id:guid}/seq", Handle).WithName("SeqAtTime");

    public sealed record SeqDto(long Seq);

    private static async Task<Results<Ok<SeqDto>, ProblemHttpResult>> Handle(
        Guid id, DateTimeOffset? at, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (at is null)
            return Http.Invalid("at is required: an ISO 8601 time, such as 2026-12-01T09:00:00Z.");
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var upTo = member.VisibleUpTo(long.MaxValue);
        var time = at.Value.ToUniversalTime();
        var seq = await session.Events.QueryAllRawEvents()
            .Where(e => e.StreamId == id && e.Timestamp <= time && e.Version <= upTo)
            .OrderByDescending(e => e.Version)
            .Select(e => e.Version)
            .FirstOrDefaultAsync(cancellationToken);
        return TypedResults.Ok(new SeqDto(seq));
    }
}
