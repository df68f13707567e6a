using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record StartCallRequest(string? Kind);

public static class StartCall
{
    public static void MapStartCall(this RouteGroupBuilder conversations) =>
        conversations.MapPost("/{id:guid}/calls", Handle).WithName("StartCall");

    /// <summary>201 with the new call; 200 with the call already ringing or going on in the conversation.</summary>
    private static async Task<Results<Created<CallDto>, Ok<CallDto>, ProblemHttpResult>> Handle(
        Guid id, StartCallRequest request, HttpContext http, ConversationWriter writer, IQuerySession session, UserRelations relations,
        IOptions<CallsOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!CallRules.TryParseKind(request.Kind, out var kind))
            return Http.Invalid("kind must be audio or video.");
        var callerId = http.User.UserId();
        // No calls across a block: in a direct conversation, the other member must not be blocked either way.
        if (await session.LoadAsync<ConversationView>(id, cancellationToken) is { Kind: ConversationKind.Direct }
            && await session.MembershipAsync(id, callerId, cancellationToken) is { Active: true })
        {
            var other = await session.Query<Membership>().Where(m => m.ConversationId == id && m.UserId != callerId).Select(m => m.UserId)
                .ToListAsync(cancellationToken);
            if (await relations.CheckAsync(http, other, adding: false, cancellationToken) is { } refused)
                return Http.Problem(refused.Status == StatusCodes.Status400BadRequest ? DomainError.Forbidden("The other member's account is gone.") : refused);
        }
        var callId = Guid.CreateVersion7();
        CallView? call = null;
        var result = await writer.WriteAsync(id, new Preload([callerId]), async context =>
        {
            var caller = await context.Member(callerId, cancellationToken);
            if (caller is not { Active: true })
                return DomainError.ConversationNotFound;
            var active = context.Conversation.ActiveCallId is { } activeId ? await context.Call(activeId, cancellationToken) : null;
            var members = active is { Ended: false } ? [] : await context.Session.Query<Membership>()
                .Where(m => m.ConversationId == id && m.Active)
                .Select(m => m.UserId)
                .ToListAsync(cancellationToken);
            var outcome = CallRules.Start(context.Conversation, caller, active, members, kind, callId, options.Value, time.GetUtcNow());
            if (outcome.Error is not null)
                return outcome.Error;
            call = outcome.Call;
            if (outcome.Events.Count > 0)
                context.Set(call!);
            return new Decision(outcome.Events);
        }, cancellationToken);

        if (result.Error is not null)
            return Http.Problem(result.Error);
        if (call!.Id != callId)
            return TypedResults.Ok(CallDto.From(call));
        var started = await result.Context!.Call(callId, cancellationToken);
        return TypedResults.Created($"/api/v1/calls/{callId}", CallDto.From(started!));
    }
}
