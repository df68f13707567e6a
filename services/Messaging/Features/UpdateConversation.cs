using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// Fields left out stay as they are; an empty topic clears it; retentionDays 0 keeps messages forever; slowModeSeconds 0
/// turns slow mode off.
/// </summary>
public sealed record UpdateConversationRequest(string? Title, string? Topic, int? RetentionDays, int? SlowModeSeconds = null);

public static class UpdateConversation
{
    public const int MaxSlowModeSeconds = 6 * 60 * 60;

    public static Decision Decide(ConversationView conversation, Membership? actor, Guid actorId, UpdateConversationRequest request, MessagingOptions options, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (!actor.IsAdmin)
            return DomainError.Forbidden("Only owners and admins change a conversation's settings.");
        var title = ConversationRules.CleanText(request.Title);
        var topic = ConversationRules.CleanText(request.Topic);
        if (ConversationRules.ValidateSettings(title, topic, request.RetentionDays, options) is { } invalid)
            return invalid;
        if (conversation.Kind == ConversationKind.Direct && !string.IsNullOrEmpty(title))
            return DomainError.Invalid("A direct conversation has no title.");
        if (conversation.Kind == ConversationKind.Channel && title is { Length: 0 })
            return DomainError.Invalid("A channel needs a title.");
        if (request.SlowModeSeconds is < 0 or > MaxSlowModeSeconds)
            return DomainError.Invalid($"slowModeSeconds is 0 (off) to {MaxSlowModeSeconds}.");
        if (conversation.Kind == ConversationKind.Direct && request.SlowModeSeconds is > 0)
            return DomainError.Invalid("A direct conversation has no slow mode.");

        var next = (
            Title: title is null ? conversation.Title : title.Length == 0 ? null : title,
            Topic: topic is null ? conversation.Topic : topic.Length == 0 ? null : topic,
            Retention: request.RetentionDays is null ? conversation.RetentionDays : request.RetentionDays == 0 ? null : request.RetentionDays,
            SlowMode: request.SlowModeSeconds ?? conversation.SlowModeSeconds);
        if (next == (conversation.Title, conversation.Topic, conversation.RetentionDays, conversation.SlowModeSeconds))
            return Decision.Nothing;
        return Decision.Of(new ConversationUpdated(next.Title, next.Topic, next.Retention, actorId, now, next.SlowMode));
    }

    public static void MapUpdateConversation(this RouteGroupBuilder group) =>
        group.MapPatch("/{id:guid}", Handle).WithName("UpdateConversation");

    private static async Task<Results<Ok<ConversationDto>, ProblemHttpResult>> Handle(
        Guid id, UpdateConversationRequest request, HttpContext http, ConversationWriter writer, IOptions<MessagingOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId]), async context =>
            Decide(context.Conversation, await context.Member(actorId, cancellationToken), actorId, request, options.Value, time.GetUtcNow()),
            cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var actor = await result.Context!.Member(actorId, cancellationToken);
        return TypedResults.Ok(ConversationDto.From(result.Context.Conversation, actor!.Role));
    }
}
