using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class GetConversation
{
    public static void MapGetConversation(this RouteGroupBuilder group) =>
        group.MapGet("/{id:guid}", Handle).WithName("GetConversation");

    private static async Task<Results<Ok<ConversationDto>, ProblemHttpResult>> Handle(Guid id, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = await session.LoadAsync<ConversationView>(id, cancellationToken);
        return TypedResults.Ok(ConversationDto.From(conversation!, member.Role));
    }
}
