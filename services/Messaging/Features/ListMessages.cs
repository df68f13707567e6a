using System.Globalization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class ListMessages
{
    public static void MapListMessages(this RouteGroupBuilder group)
    {
        group.MapGet("/{id:guid}/messages", List).WithName("ListMessages");
        group.MapGet("/{id:guid}/messages/{messageId:guid}", Get).WithName("GetMessage");
    }

    /// <summary>
    /// History, in seq order, by keyset on seq (the cost is one page's whatever the history's length).
    /// <c>after</c>: the page after that seq, <c>next</c> continues forward. Otherwise the page before
    /// <c>before</c> (default: the newest), <c>next</c> continues backward. With <c>asOf</c> (a time) or
    /// <c>asOfSeq</c>: the messages as they were then (<see cref="TimeTravel"/>), paged the same way.
    /// </summary>
    private static async Task<Results<Ok<Page<MessageDto>>, ProblemHttpResult>> List(
        Guid id, long? before, long? after, int? limit, DateTimeOffset? asOf, long? asOfSeq, HttpContext http, IQuerySession session,
        IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        if (before is < 0 || after is < 0)
            return Http.Invalid("before and after are seqs: zero or more.");
        if (before is not null && after is not null)
            return Http.Invalid("Give before or after, not both.");
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var size = Http.PageSize(limit, options.Value);
        // Former members see what happened up to their leaving, nothing after.
        var visibleUpTo = member.Active ? long.MaxValue : member.LeftSeq ?? 0;
        long? point = null;
        if (asOf is not null || asOfSeq is not null)
        {
            var (seq, refused) = await TimeTravel.PointAsync(session, id, asOf, asOfSeq, visibleUpTo, cancellationToken);
            if (refused is not null)
                return Http.Problem(refused);
            point = visibleUpTo = seq;
        }

        List<MessageView> page;
        string? next;
        if (after is { } from)
        {
            page = (await session.Query<MessageView>()
                .Where(m => m.ConversationId == id && m.Seq > from && m.Seq <= visibleUpTo)
                .OrderBy(m => m.Seq).Take(size + 1).ToListAsync(cancellationToken)).ToList();
            next = page.Count > size ? page[size - 1].Seq.ToString(CultureInfo.InvariantCulture) : null;
            page = page.Take(size).ToList();
        }
        else
        {
            var upTo = Math.Min(before ?? long.MaxValue, visibleUpTo == long.MaxValue ? long.MaxValue : visibleUpTo + 1);
            page = (await session.Query<MessageView>()
                .Where(m => m.ConversationId == id && m.Seq < upTo)
                .OrderByDescending(m => m.Seq).Take(size + 1).ToListAsync(cancellationToken)).ToList();
            next = page.Count > size ? page[size - 1].Seq.ToString(CultureInfo.InvariantCulture) : null;
            page = page.Take(size).Reverse().ToList();
        }
        if (point is { } then)
            page = await TimeTravel.AsOfAsync(session, id, page, then, cancellationToken);
        return TypedResults.Ok(new Page<MessageDto>(page.Select(MessageDtos.ToDto).ToList(), next));
    }

    private static async Task<Results<Ok<MessageDto>, ProblemHttpResult>> Get(
        Guid id, Guid messageId, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var message = await session.LoadAsync<MessageView>(messageId, cancellationToken);
        if (message is null || message.ConversationId != id || !member.Active && message.Seq > (member.LeftSeq ?? 0))
            return Http.Problem(DomainError.MessageNotFound);
        return TypedResults.Ok(MessageDtos.ToDto(message));
    }
}
