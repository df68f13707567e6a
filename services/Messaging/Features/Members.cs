using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record AddMembersRequest(Guid[]? UserIds, string? Role);

public sealed record ChangeRoleRequest(string? Role);

public sealed record MemberDto(Guid UserId, MemberRole Role, long JoinedSeq, DateTimeOffset JoinedAt, bool IsBot = false);

public static class Members
{
    public const int MaxAddedAtOnce = 1000;

    /// <summary>
    /// Owners and admins add members (admins only as plain members); anyone may join a public channel
    /// themselves. Direct conversations never change members. Nobody banned (<paramref name="banned"/>) joins or is added.
    /// </summary>
    public static Decision DecideAdd(
        ConversationView conversation, Membership? actor, Guid actorId, IReadOnlyList<(Guid UserId, Membership? Current)> targets,
        MemberRole role, MessagingOptions options, DateTimeOffset now, IReadOnlyCollection<Guid>? banned = null)
    {
        var selfJoin = targets.Count == 1 && targets[0].UserId == actorId;
        if (actor is not { Active: true } && !(selfJoin && conversation is { Kind: ConversationKind.Channel, IsPublic: true }))
            return DomainError.ConversationNotFound;
        if (conversation.Kind == ConversationKind.Direct)
            return DomainError.Conflict("A direct conversation's members cannot change.");
        if (targets.Count == 0 || targets.Any(t => t.UserId == Guid.Empty))
            return DomainError.Invalid("userIds must name at least one user.");
        if (selfJoin && actor is not { Active: true })
        {
            if (role != MemberRole.Member)
                return DomainError.Forbidden("You join a channel as a member.");
        }
        else if (actor is not { IsAdmin: true })
            return DomainError.Forbidden("Only owners and admins add members.");
        else if (role != MemberRole.Member && actor.Role != MemberRole.Owner)
            return DomainError.Forbidden("Only owners add admins and owners.");
        if (banned is { Count: > 0 })
            return DomainError.Forbidden(selfJoin && actor is not { Active: true }
                ? "You are banned from this conversation."
                : "A user you named is banned from this conversation: unban them first.");

        var joining = targets.Where(t => t.Current is not { Active: true }).Select(t => t.UserId).Distinct().ToList();
        var limit = conversation.Kind == ConversationKind.Group ? options.MaxGroupMembers : options.MaxChannelMembers;
        if (conversation.MemberCount + joining.Count > limit)
            return DomainError.Conflict($"This conversation has at most {limit} members.");
        return Decision.Of(joining.Select(userId => (object)new MemberJoined(userId, role, actorId, now)).ToArray());
    }

    /// <summary>Members leave; owners remove anyone but other owners, admins remove plain members.</summary>
    public static Decision DecideRemove(ConversationView conversation, Membership? actor, Guid actorId, Membership? target, int activeOwners, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (conversation.Kind == ConversationKind.Direct)
            return DomainError.Conflict("A direct conversation's members cannot change.");
        if (target is not { Active: true })
            return new DomainError(StatusCodes.Status404NotFound, "Member not found", "That user is not a member of this conversation.");
        var leaving = target.UserId == actorId;
        if (!leaving && !(actor.Role == MemberRole.Owner && target.Role != MemberRole.Owner || actor.Role == MemberRole.Admin && target.Role == MemberRole.Member))
            return DomainError.Forbidden("Owners remove admins and members; admins remove members.");
        if (leaving && target.Role == MemberRole.Owner && activeOwners == 1 && conversation.MemberCount > 1)
            return DomainError.Conflict("You are the only owner: make another member an owner before leaving.");
        return Decision.Of(new MemberLeft(target.UserId, actorId, now));
    }

    public static Decision DecideRoleChange(ConversationView conversation, Membership? actor, Guid actorId, Membership? target, MemberRole role, int activeOwners, DateTimeOffset now)
    {
        if (actor is not { Active: true })
            return DomainError.ConversationNotFound;
        if (conversation.Kind == ConversationKind.Direct)
            return DomainError.Conflict("A direct conversation has no roles to change.");
        if (actor.Role != MemberRole.Owner)
            return DomainError.Forbidden("Only owners change roles.");
        if (target is not { Active: true })
            return new DomainError(StatusCodes.Status404NotFound, "Member not found", "That user is not a member of this conversation.");
        if (target.Role == role)
            return Decision.Nothing;
        if (target.Role == MemberRole.Owner && activeOwners == 1)
            return DomainError.Conflict("A conversation keeps at least one owner.");
        return Decision.Of(new MemberRoleChanged(target.UserId, role, actorId, now));
    }

    public static void MapMembers(this RouteGroupBuilder group)
    {
        group.MapGet("/{id:guid}/members", List).WithName("ListMembers");
        group.MapPost("/{id:guid}/members", Add).WithName("AddMembers");
        group.MapPatch("/{id:guid}/members/{userId:guid}", ChangeRole).WithName("ChangeMemberRole");
        group.MapDelete("/{id:guid}/members/{userId:guid}", Remove).WithName("RemoveMember");
    }

    private static async Task<Results<Ok<Page<MemberDto>>, ProblemHttpResult>> List(
        Guid id, Guid? after, int? limit, DateTimeOffset? asOf, long? asOfSeq, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options,
        CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, http.User.UserId(), cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);
        var size = Http.PageSize(limit, options.Value);
        var from = after ?? Guid.Empty;
        if (asOf is not null || asOfSeq is not null)
        {
            // The members as they were then (time travel), from the membership events up to that point.
            var (point, refused) = await TimeTravel.PointAsync(session, id, asOf, asOfSeq, long.MaxValue, cancellationToken);
            if (refused is not null)
                return Http.Problem(refused);
            var (then, more) = await TimeTravel.MembersAsOfAsync(session, id, point, from, size, cancellationToken);
            return TypedResults.Ok(new Page<MemberDto>(then, more ? then[^1].UserId.ToString() : null));
        }
        var page = await session.Query<Membership>()
            .Where(m => m.ConversationId == id && m.Active && m.UserId > from)
            .OrderBy(m => m.UserId)
            .Take(size + 1)
            .ToListAsync(cancellationToken);
        var shown = page.Take(size).ToList();
        // Bots are shown as bots (the directory knows them from Identity's UserRegistered).
        var bots = shown.Count == 0 ? [] : (await session.LoadManyAsync<UserDirectoryEntry>(cancellationToken, shown.Select(m => m.UserId).ToArray()))
            .Where(u => u.IsBot).Select(u => u.Id).ToHashSet();
        var items = shown.Select(m => new MemberDto(m.UserId, m.Role, m.JoinedSeq, m.JoinedAt, bots.Contains(m.UserId))).ToList();
        return TypedResults.Ok(new Page<MemberDto>(items, page.Count > size ? items[^1].UserId.ToString() : null));
    }

    private static async Task<Results<Ok<ConversationDto>, ProblemHttpResult>> Add(
        Guid id, AddMembersRequest request, HttpContext http, ConversationWriter writer, IQuerySession session, UserRelations relations,
        IOptions<MessagingOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var role = MemberRole.Member;
        if (request.Role is not null && !ConversationRules.TryParseRole(request.Role, out role))
            return Http.Invalid("role must be one of: member, admin, owner.");
        var userIds = (request.UserIds ?? []).Distinct().ToList();
        if (userIds.Count > MaxAddedAtOnce)
            return Http.Invalid($"Add at most {MaxAddedAtOnce} members at a time.");
        // Only a member learns anything about the users named (the decision below answers a non-member 404); a member's
        // users must exist, with no block between them and the adder, and let the adder add them.
        var others = userIds.Where(userId => userId != actorId && userId != Guid.Empty).ToList();
        if (others.Count > 0 && await session.MembershipAsync(id, actorId, cancellationToken) is { Active: true }
            && await relations.CheckAsync(http, others, adding: true, cancellationToken) is { } refused)
            return Http.Problem(refused);

        var result = await writer.WriteAsync(id, new Preload([actorId, .. userIds]), async context =>
        {
            var targets = new List<(Guid, Membership?)>();
            foreach (var userId in userIds)
                targets.Add((userId, await context.Member(userId, cancellationToken)));
            var now = time.GetUtcNow();
            var keys = userIds.Select(userId => ConversationBan.KeyOf(id, userId)).ToArray();
            var bans = keys.Length == 0 ? [] : await context.Session.LoadManyAsync<ConversationBan>(cancellationToken, keys);
            var banned = bans.Where(ban => ban.InForce(now)).Select(ban => ban.UserId).ToList();
            return DecideAdd(context.Conversation, await context.Member(actorId, cancellationToken), actorId, targets, role, options.Value, now, banned);
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var actor = await result.Context!.Member(actorId, cancellationToken);
        return TypedResults.Ok(ConversationDto.From(result.Context.Conversation, actor!.Role));
    }

    private static async Task<Results<Ok<MemberDto>, ProblemHttpResult>> ChangeRole(
        Guid id, Guid userId, ChangeRoleRequest request, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        if (!ConversationRules.TryParseRole(request.Role, out var role))
            return Http.Invalid("role must be one of: member, admin, owner.");
        var result = await writer.WriteAsync(id, new Preload([actorId, userId]), async context =>
        {
            var owners = await OwnerCount(context, cancellationToken);
            return DecideRoleChange(context.Conversation, await context.Member(actorId, cancellationToken), actorId,
                await context.Member(userId, cancellationToken), role, owners, time.GetUtcNow());
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var member = (await result.Context!.Member(userId, cancellationToken))!;
        return TypedResults.Ok(new MemberDto(member.UserId, member.Role, member.JoinedSeq, member.JoinedAt));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Remove(
        Guid id, Guid userId, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var actorId = http.User.UserId();
        var result = await writer.WriteAsync(id, new Preload([actorId, userId]), async context =>
        {
            var owners = await OwnerCount(context, cancellationToken);
            return DecideRemove(context.Conversation, await context.Member(actorId, cancellationToken), actorId,
                await context.Member(userId, cancellationToken), owners, time.GetUtcNow());
        }, cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    private static Task<int> OwnerCount(WriteContext context, CancellationToken cancellationToken) =>
        context.Session.Query<Membership>().CountAsync(m => m.ConversationId == context.Conversation.Id && m.Active && m.Role == MemberRole.Owner, cancellationToken);
}
