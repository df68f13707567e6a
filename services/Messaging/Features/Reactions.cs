using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public static class Reactions
{
    /// <summary>Each member reacts with an emoji at most once per message; adding or removing twice changes nothing.</summary>
    public static Decision Decide(Membership? actor, Guid actorId, MessageView? message, string emoji, bool add, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (message is null)
            return DomainError.MessageNotFound;
        if (message.Deleted)
            return DomainError.Conflict("The message was deleted.");
        if (add && Moderation.Muted(actor, now) is { } muted)
            return muted;
        if (message.HasReaction(emoji, actorId) == add)
            return Decision.Nothing;
        return add ? Decision.Of(new ReactionAdded(message.Id, emoji, actorId, now)) : Decision.Of(new ReactionRemoved(message.Id, emoji, actorId, now));
    }

    public static void MapReactions(this RouteGroupBuilder group)
    {
        group.MapPut("/{id:guid}/messages/{messageId:guid}/reactions/{emoji}", (Guid id, Guid messageId, string emoji, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken ct)
            => Handle(id, messageId, emoji, add: true, http, writer, time, ct)).WithName("AddReaction");
        group.MapDelete("/{id:guid}/messages/{messageId:guid}/reactions/{emoji}", (Guid id, Guid messageId, string emoji, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken ct)
            => Handle(id, messageId, emoji, add: false, http, writer, time, ct)).WithName("RemoveReaction");
    }

    private static async Task<Results<Ok<MessageDto>, ProblemHttpResult>> Handle(
        Guid id, Guid messageId, string emoji, bool add, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Emoji.IsValid(emoji))
            return Http.Invalid("The reaction must be a single emoji.");
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId], [messageId]), async context =>
            Decide(await context.Member(actorId, cancellationToken), actorId, await context.Message(messageId, cancellationToken), emoji, add, time.GetUtcNow()),
            cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        return TypedResults.Ok(MessageDtos.ToDto((await result.Context!.Message(messageId, cancellationToken))!));
    }
}
