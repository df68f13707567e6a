using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// Message requests and leaving: <c>POST /{id}/accept</c> and <c>POST /{id}/decline</c> answer a direct message from
/// someone not in my contacts (my inbox row's <c>state</c> is <c>requested</c> until then); <c>POST /{id}/leave</c> leaves
/// any conversation, a direct one too (it then takes no more messages until I open it again).
/// </summary>
public static class Requests
{
    public static Decision DecideAccept(Membership? member, Guid userId, DateTimeOffset now) => member switch
    {
        not { Active: true } => DomainError.ConversationNotFound,
        { Requested: true } => Decision.Of(new RequestAccepted(userId, now)),
        _ => Decision.Nothing,
    };

    public static Decision DecideDecline(Membership? member, Guid userId, DateTimeOffset now) => member switch
    {
        not { Active: true } => DomainError.ConversationNotFound,
        { Requested: true } => Decision.Of(new MemberLeft(userId, userId, now)),
        _ => DomainError.Conflict("This conversation is not a message request: leave it instead."),
    };

    public static Decision DecideLeave(ConversationView conversation, Membership? member, Guid userId, int activeOwners, DateTimeOffset now) =>
        conversation.Kind == ConversationKind.Direct
            ? member is { Active: true } ? Decision.Of(new MemberLeft(userId, userId, now)) : DomainError.ConversationNotFound
            : Members.DecideRemove(conversation, member, userId, member, activeOwners, now);

    public static void MapRequests(this RouteGroupBuilder group)
    {
        group.MapPost("/{id:guid}/accept", Accept).WithName("AcceptRequest");
        group.MapPost("/{id:guid}/decline", Decline).WithName("DeclineRequest");
        group.MapPost("/{id:guid}/leave", Leave).WithName("LeaveConversation");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Accept(
        Guid id, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([userId]), async context =>
            DecideAccept(await context.Member(userId, cancellationToken), userId, time.GetUtcNow()), cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Decline(
        Guid id, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([userId]), async context =>
            DecideDecline(await context.Member(userId, cancellationToken), userId, time.GetUtcNow()), cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Leave(
        Guid id, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([userId]), async context =>
        {
            var owners = await context.Session.Query<Membership>()
                .CountAsync(m => m.ConversationId == id && m.Active && m.Role == MemberRole.Owner, cancellationToken);
            return DecideLeave(context.Conversation, await context.Member(userId, cancellationToken), userId, owners, time.GetUtcNow());
        }, cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }
}
