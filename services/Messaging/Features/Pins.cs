using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>Pinned messages: log events every member sees; the conversation keeps the list, newest pin first.</summary>
public static class Pins
{
    public const int MaxPins = 50;

    /// <summary>Members pin in direct conversations and groups; in channels, owners and admins. Pinning twice changes nothing.</summary>
    public static Decision Decide(ConversationView conversation, Membership? actor, Guid actorId, MessageView? message, bool pin, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (message is null)
            return DomainError.MessageNotFound;
        if (conversation.Kind == ConversationKind.Channel && !actor.Moderates(conversation.Kind))
            return DomainError.Forbidden("In a channel, owners and admins pin messages.");
        var pinned = conversation.PinnedMessageIds.Contains(message.Id);
        if (pinned == pin)
            return Decision.Nothing;
        if (!pin)
            return Decision.Of(new MessageUnpinned(message.Id, actorId, now));
        if (message.Deleted)
            return DomainError.Conflict("The message was deleted.");
        if (conversation.PinnedMessageIds.Count >= MaxPins)
            return DomainError.Conflict($"A conversation has at most {MaxPins} pinned messages: unpin one first.");
        return Decision.Of(new MessagePinned(message.Id, actorId, now));
    }

    public static void MapPins(this RouteGroupBuilder group)
    {
        group.MapGet("/{id:guid}/pins", List).WithName("ListPins");
        group.MapPut("/{id:guid}/pins/{messageId:guid}", (Guid id, Guid messageId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken ct)
            => Handle(id, messageId, pin: true, http, writer, time, ct)).WithName("PinMessage");
        group.MapDelete("/{id:guid}/pins/{messageId:guid}", (Guid id, Guid messageId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken ct)
            => Handle(id, messageId, pin: false, http, writer, time, ct)).WithName("UnpinMessage");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid id, Guid messageId, bool pin, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId], [messageId]), async context =>
            Decide(context.Conversation, await context.Member(actorId, cancellationToken), actorId, await context.Message(messageId, cancellationToken), pin,
                time.GetUtcNow()),
            cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static async Task<Results<Ok<Page<MessageDto>>, ProblemHttpResult>> List(
        Guid id, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = await session.LoadAsync<ConversationView>(id, cancellationToken);
        var ids = conversation?.PinnedMessageIds.ToArray() ?? [];
        var messages = ids.Length == 0 ? [] : (await session.LoadManyAsync<MessageView>(cancellationToken, ids)).ToDictionary(m => m.Id);
        var items = ids.Where(messages.ContainsKey).Select(messageId => MessageDtos.ToDto(messages[messageId])).ToList();
        return TypedResults.Ok(new Page<MessageDto>(items, null));
    }
}
