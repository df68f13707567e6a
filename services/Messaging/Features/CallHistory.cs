using System.Globalization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class CallHistory
{
    public static void MapCallHistory(this RouteGroupBuilder conversations) =>
        conversations.MapGet("/{id:guid}/calls", Handle).WithName("ListCalls");

    /// <summary>The conversation's calls, newest first; <c>next</c> is the <c>before</c> of the following page.</summary>
    private static async Task<Results<Ok<Page<CallDto>>, ProblemHttpResult>> Handle(
        Guid id, long? before, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        if (before is < 0)
            return Http.Invalid("before is a seq: zero or more.");
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var size = Http.PageSize(limit, options.Value);
        var upTo = Math.Min(before is { } b ? b - 1 : long.MaxValue, member.Active ? long.MaxValue : member.LeftSeq ?? 0);
        var calls = await session.Query<CallView>()
            .Where(c => c.ConversationId == id && c.StartedSeq <= upTo)
            .OrderByDescending(c => c.StartedSeq)
            .Take(size + 1)
            .ToListAsync(cancellationToken);
        var page = calls.Take(size).Select(CallDto.From).ToList();
        return TypedResults.Ok(new Page<CallDto>(page, calls.Count > size ? page[^1].StartedSeq.ToString(CultureInfo.InvariantCulture) : null));
    }
}
