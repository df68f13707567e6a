using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record BanRequest(string? Reason, DateTimeOffset? Until);

public sealed record TimeoutRequest(DateTimeOffset? Until);

public sealed record BanDto(Guid UserId, string? Reason, DateTimeOffset? Until, Guid BannedBy, DateTimeOffset BannedAt);

public sealed record TimeoutDto(Guid UserId, DateTimeOffset Until);

/// <summary>
/// Bans and timeouts in groups and channels: owners act on admins and members, admins on members. Each is an event
/// in the conversation's log with its actor, so every member's client, and every service, sees it.
/// </summary>
public static class Moderation
{
    public const int MaxReasonLength = 500;
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(28);

    public static Decision DecideBan(
        ConversationView conversation, Membership? actor, Guid actorId, Guid targetId, Membership? target, ConversationBan? existing,
        BanRequest request, DateTimeOffset now)
    {
        if (CheckModerator(conversation, actor, "ban") is { } refused)
            return refused;
        if (targetId == Guid.Empty || targetId == actorId)
            return DomainError.Invalid("Name another user to ban.");
        if (target is { Active: true } && !Outranks(actor!, target))
            return DomainError.Forbidden("Owners ban admins and members; admins ban members.");
        var reason = ConversationRules.CleanText(request.Reason);
        if (reason is { Length: > MaxReasonLength })
            return DomainError.Invalid($"The reason holds at most {MaxReasonLength} characters.");
        if (request.Until is { } until && until <= now)
            return DomainError.Invalid("until must be in the future (or left out: banned until unbanned).");
        reason = string.IsNullOrEmpty(reason) ? null : reason;
        if (existing is not null && existing.InForce(now) && existing.Reason == reason && existing.Until == request.Until && target is not { Active: true })
            return Decision.Nothing;
        var banned = new MemberBanned(targetId, reason, request.Until, actorId, now);
        return target is { Active: true } ? Decision.Of(banned, new MemberLeft(targetId, actorId, now)) : Decision.Of(banned);
    }

    public static Decision DecideUnban(ConversationView conversation, Membership? actor, Guid actorId, Guid targetId, ConversationBan? existing, DateTimeOffset now)
    {
        if (CheckModerator(conversation, actor, "unban") is { } refused)
            return refused;
        return existing is null ? Decision.Nothing : Decision.Of(new MemberUnbanned(targetId, actorId, now));
    }

    /// <summary>A timeout (<paramref name="until"/>) or its end (null): the member stays, but cannot post or react meanwhile.</summary>
    public static Decision DecideTimeout(ConversationView conversation, Membership? actor, Guid actorId, Membership? target, DateTimeOffset? until, DateTimeOffset now)
    {
        if (CheckModerator(conversation, actor, "time out") is { } refused)
            return refused;
        if (target is not { Active: true })
            return new DomainError(StatusCodes.Status404NotFound, "Member not found", "That user is not a member of this conversation.");
        if (target.UserId == actorId)
            return DomainError.Invalid("Name another member to time out.");
        if (!Outranks(actor!, target))
            return DomainError.Forbidden("Owners time out admins and members; admins time out members.");
        if (until is null)
            return target.TimedOutUntil is { } current && current > now ? Decision.Of(new MemberTimedOut(target.UserId, null, actorId, now)) : Decision.Nothing;
        if (until <= now || until > now + MaxTimeout)
            return DomainError.Invalid($"until must be in the future, and at most {MaxTimeout.TotalDays} days away.");
        return target.TimedOutUntil == until ? Decision.Nothing : Decision.Of(new MemberTimedOut(target.UserId, until, actorId, now));
    }

    /// <summary>Why this member may not post or react now, if they may not (a timeout).</summary>
    public static DomainError? Muted(Membership member, DateTimeOffset now) =>
        member.TimedOutUntil is { } until && until > now
            ? DomainError.Forbidden($"You are timed out in this conversation until {until:O}.")
            : null;

    /// <summary>Slow mode: how long this member must still wait before posting, if at all (moderators never wait).</summary>
    public static DomainError? TooSoon(ConversationView conversation, Membership member, DateTimeOffset now)
    {
        if (conversation.SlowModeSeconds <= 0 || member.Moderates(conversation.Kind) || member.LastPostedAt is not { } last)
            return null;
        var wait = last + TimeSpan.FromSeconds(conversation.SlowModeSeconds) - now;
        return wait > TimeSpan.Zero
            ? new DomainError(StatusCodes.Status429TooManyRequests, "Slow mode",
                $"This conversation allows one message every {conversation.SlowModeSeconds} s per member.")
            { RetryAfter = wait }
            : null;
    }

    private static DomainError? CheckModerator(ConversationView conversation, Membership? actor, string what)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (conversation.Kind == ConversationKind.Direct)
            return DomainError.Conflict($"Nobody can {what} in a direct conversation.");
        return actor.Moderates(conversation.Kind) ? null : DomainError.Forbidden($"Only owners and admins {what}.");
    }

    private static bool Outranks(Membership actor, Membership target) =>
        actor.Role == MemberRole.Owner ? target.Role != MemberRole.Owner : actor.Role == MemberRole.Admin && target.Role == MemberRole.Member;

    public static void MapModeration(this RouteGroupBuilder group)
    {
        group.MapGet("/{id:guid}/bans", ListBans).WithName("ListBans");
        group.MapPut("/{id:guid}/bans/{userId:guid}", Ban).WithName("BanUser");
        group.MapDelete("/{id:guid}/bans/{userId:guid}", Unban).WithName("UnbanUser");
        group.MapPut("/{id:guid}/timeouts/{userId:guid}", TimeOut).WithName("TimeOutMember");
        group.MapDelete("/{id:guid}/timeouts/{userId:guid}", LiftTimeout).WithName("LiftTimeout");
    }

    private static async Task<Results<Ok<Page<BanDto>>, ProblemHttpResult>> ListBans(
        Guid id, HttpContext http, IQuerySession session, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        if (await session.LoadAsync<ConversationView>(id, cancellationToken) is not { } conversation || !member.Moderates(conversation.Kind))
            return Http.Problem(DomainError.Forbidden("Only owners and admins see the bans."));
        var now = time.GetUtcNow();
        var bans = await session.Query<ConversationBan>().Where(b => b.ConversationId == id).OrderBy(b => b.BannedAt).Take(1000).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<BanDto>(bans.Where(b => b.InForce(now)).Select(ToDto).ToList(), null));
    }

    private static async Task<Results<Ok<BanDto>, ProblemHttpResult>> Ban(
        Guid id, Guid userId, BanRequest? request, HttpContext http, ConversationWriter writer, IQuerySession session, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var key = ConversationBan.KeyOf(id, userId);
        var result = await writer.WriteAsync(id, new Preload([actorId, userId]), async context =>
            DecideBan(context.Conversation, await context.Member(actorId, cancellationToken), actorId, userId, await context.Member(userId, cancellationToken),
                await context.Session.LoadAsync<ConversationBan>(key, cancellationToken), request ?? new BanRequest(null, null), time.GetUtcNow()),
            cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var ban = await session.LoadAsync<ConversationBan>(key, cancellationToken);
        return ban is null ? Http.Problem(DomainError.Conflict("The ban was lifted meanwhile.")) : TypedResults.Ok(ToDto(ban));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Unban(
        Guid id, Guid userId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId]), async context =>
            DecideUnban(context.Conversation, await context.Member(actorId, cancellationToken), actorId, userId,
                await context.Session.LoadAsync<ConversationBan>(ConversationBan.KeyOf(id, userId), cancellationToken), time.GetUtcNow()),
            cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static async Task<Results<Ok<TimeoutDto>, ProblemHttpResult>> TimeOut(
        Guid id, Guid userId, TimeoutRequest request, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request.Until is null)
            return Http.Invalid("until is required: the time the member may post again.");
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId, userId]), async context =>
            DecideTimeout(context.Conversation, await context.Member(actorId, cancellationToken), actorId, await context.Member(userId, cancellationToken),
                request.Until, time.GetUtcNow()),
            cancellationToken);
        return result.Error is null ? TypedResults.Ok(new TimeoutDto(userId, request.Until.Value)) : Http.Problem(result.Error);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> LiftTimeout(
        Guid id, Guid userId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId, userId]), async context =>
            DecideTimeout(context.Conversation, await context.Member(actorId, cancellationToken), actorId, await context.Member(userId, cancellationToken),
                null, time.GetUtcNow()),
            cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static BanDto ToDto(ConversationBan ban) => new(ban.UserId, ban.Reason, ban.Until, ban.BannedBy, ban.BannedAt);
}
