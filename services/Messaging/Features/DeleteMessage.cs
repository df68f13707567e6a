using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class DeleteMessage
{
    /// <summary>The author or a moderator deletes (in a direct conversation, only the author); deleting twice changes nothing.</summary>
    public static Decision Decide(ConversationKind kind, Membership? actor, Guid actorId, MessageView? message, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (message is null)
            return DomainError.MessageNotFound;
        if (message.SenderId != actorId && !actor.Moderates(kind))
            return DomainError.Forbidden(kind == ConversationKind.Direct
                ? "In a direct conversation each member deletes only their own messages."
                : "Only the author and admins delete a message.");
        if (message.Deleted)
            return Decision.Nothing;
        return Decision.Of(new MessageDeleted(message.Id, actorId, now, DeleteReasons.Deleted));
    }

    public static void MapDeleteMessage(this RouteGroupBuilder group) =>
        group.MapDelete("/{id:guid}/messages/{messageId:guid}", Handle).WithName("DeleteMessage");

    private static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid id, Guid messageId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId], [messageId]), async context =>
            Decide(context.Conversation.Kind, await context.Member(actorId, cancellationToken), actorId, await context.Message(messageId, cancellationToken), time.GetUtcNow()),
            cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }
}
