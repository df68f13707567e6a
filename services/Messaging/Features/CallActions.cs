using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record EndCallRequest(string? Reason);

/// <summary>One call: read it, join, leave, decline, end. Only active members of its conversation see it (404 otherwise).</summary>
public static class CallActions
{
    public static void MapCallActions(this RouteGroupBuilder calls)
    {
        calls.MapGet("/{id:guid}", Get).WithName("GetCall");
        calls.MapPost("/{id:guid}/join", (Guid id, HttpContext http, ConversationWriter writer, IQuerySession session, IOptions<CallsOptions> options, TimeProvider time, CancellationToken ct) =>
            Change(id, http, writer, session, (call, member) => CallRules.Join(call, member, options.Value.MaxParticipants, time.GetUtcNow()), ct)).WithName("JoinCall");
        calls.MapPost("/{id:guid}/leave", (Guid id, HttpContext http, ConversationWriter writer, IQuerySession session, TimeProvider time, CancellationToken ct) =>
            Change(id, http, writer, session, (call, member) => CallRules.Leave(call, member, time.GetUtcNow()), ct)).WithName("LeaveCall");
        calls.MapPost("/{id:guid}/decline", (Guid id, HttpContext http, ConversationWriter writer, IQuerySession session, TimeProvider time, CancellationToken ct) =>
            Change(id, http, writer, session, (call, member) => CallRules.Decline(call, member, time.GetUtcNow()), ct)).WithName("DeclineCall");
        calls.MapPost("/{id:guid}/end", async (Guid id, HttpContext http, ConversationWriter writer, IQuerySession session, TimeProvider time, CancellationToken ct) =>
        {
            // The body is optional: {"reason": "failed"} when the client could not set the call up.
            var hasBody = http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0;
            if (hasBody && !http.Request.HasJsonContentType())
                return (Results<Ok<CallDto>, ProblemHttpResult>)Http.Invalid("The body, if any, is JSON: {\"reason\": \"failed\"}.");
            var request = hasBody ? await http.Request.ReadFromJsonAsync<EndCallRequest>(ct) : null;
            var reason = request?.Reason;
            if (reason is not (null or "completed" or "failed"))
                return (Results<Ok<CallDto>, ProblemHttpResult>)Http.Invalid("reason is completed or failed (or absent).");
            return await Change(id, http, writer, session, (call, member) => CallRules.EndByRequest(call, member, reason == "failed", time.GetUtcNow()), ct);
        }).WithName("EndCall");
    }

    private static async Task<Results<Ok<CallDto>, ProblemHttpResult>> Get(Guid id, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var call = await session.LoadAsync<CallView>(id, cancellationToken);
        if (call is null || await session.MembershipAsync(call.ConversationId, http.User.UserId(), cancellationToken) is not { Active: true })
            return Http.Problem(CallRules.CallNotFound);
        return TypedResults.Ok(CallDto.From(call));
    }

    private static async Task<Results<Ok<CallDto>, ProblemHttpResult>> Change(
        Guid id, HttpContext http, ConversationWriter writer, IQuerySession session, Func<CallView?, Membership?, CallOutcome> decide,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await session.LoadAsync<CallView>(id, cancellationToken) is not { } found)
            return Http.Problem(CallRules.CallNotFound);
        CallView? call = null;
        var result = await writer.WriteAsync(found.ConversationId, async context =>
        {
            var outcome = decide(await context.Call(id, cancellationToken), await context.Member(userId, cancellationToken));
            if (outcome.Error is not null)
                return outcome.Error;
            call = outcome.Call;
            if (call is not null && !ReferenceEquals(call, await context.Call(id, cancellationToken)))
                context.Set(call);
            return new Decision(outcome.Events);
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error == DomainError.ConversationNotFound ? CallRules.CallNotFound : result.Error);
        // After an end, the stored state carries the seq of the CallEnded event.
        return TypedResults.Ok(CallDto.From(await result.Context!.Call(id, cancellationToken) ?? call!));
    }
}
