using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record EditMessageRequest(string? Text);

public sealed record MessageVersionDto(long Seq, string Text, DateTimeOffset At);

public static class EditMessage
{
    /// <summary>Only the author edits, and only a message that still exists.</summary>
    public static Decision Decide(Membership? actor, Guid actorId, MessageView? message, string text, IReadOnlyList<Guid> mentions, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (message is null)
            return DomainError.MessageNotFound;
        if (message.SenderId != actorId)
            return DomainError.Forbidden("Only the author edits a message.");
        if (message.Deleted)
            return DomainError.Conflict("The message was deleted.");
        if (message.Text == text)
            return Decision.Nothing;
        return Decision.Of(new MessageEdited(message.Id, text, mentions, MessageText.Urls(text), actorId, now));
    }

    public static void MapEditMessage(this RouteGroupBuilder group)
    {
        group.MapPatch("/{id:guid}/messages/{messageId:guid}", Handle).WithName("EditMessage");
        group.MapGet("/{id:guid}/messages/{messageId:guid}/versions", Versions).WithName("ListMessageVersions");
    }

    private static async Task<Results<Ok<MessageDto>, ProblemHttpResult>> Handle(
        Guid id, Guid messageId, EditMessageRequest request, HttpContext http, ConversationWriter writer, IOptions<MessagingOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var text = MessageText.Normalize(request.Text ?? "");
        if (text.Length == 0 || text.Length > options.Value.MaxTextLength)
            return Http.Invalid($"The text must hold 1 to {options.Value.MaxTextLength} characters.");
        var result = await writer.WriteAsync(id, new Preload([actorId], [messageId]), async context =>
        {
            var actor = await context.Member(actorId, cancellationToken);
            var mentions = actor is { Active: true } ? await SendMessage.ResolveMentionsAsync(context, text, cancellationToken) : [];
            return Decide(actor, actorId, await context.Message(messageId, cancellationToken), text, mentions, time.GetUtcNow());
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        return TypedResults.Ok(MessageDtos.ToDto((await result.Context!.Message(messageId, cancellationToken))!));
    }

    /// <summary>Earlier versions stay in the log; the author and the conversation's moderators may read them.</summary>
    private static async Task<Results<Ok<Page<MessageVersionDto>>, ProblemHttpResult>> Versions(
        Guid id, Guid messageId, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var message = await session.LoadAsync<MessageView>(messageId, cancellationToken);
        if (message is null || message.ConversationId != id)
            return Http.Problem(DomainError.MessageNotFound);
        if (message.SenderId != userId && !(member.IsAdmin && await session.LoadAsync<ConversationView>(id, cancellationToken) is { } conversation
                && member.Moderates(conversation.Kind)))
            return Http.Problem(DomainError.Forbidden("Only the author and admins see earlier versions (in a direct conversation, only the author)."));

        var seqs = message.TextSeqs.ToArray();
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.StreamId == id && e.Version.IsOneOf(seqs))
            .OrderBy(e => e.Version)
            .ToListAsync(cancellationToken);
        var versions = events.Select(e => e.Data switch
        {
            MessagePosted p => new MessageVersionDto(e.Version, p.Text, p.PostedAt),
            MessageEdited m => new MessageVersionDto(e.Version, m.Text, m.EditedAt),
            _ => null,
        }).OfType<MessageVersionDto>().ToList();
        return TypedResults.Ok(new Page<MessageVersionDto>(versions, null));
    }
}
