using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Identity.Data;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RelationsQuery(Guid[]? UserIds);

/// <summary>
/// How the caller stands with one other user. <c>Exists</c>: an active account. <c>Blocked</c>: either blocked the
/// other. <c>Contact</c>: the other has the caller among their contacts (the other's consent: a direct message from a
/// non-contact is a request). <c>AllowsAdd</c>: the other's <c>whoCanAdd</c> lets the caller add them to a group.
/// </summary>
public sealed record Relation(Guid UserId, bool Exists, bool Blocked, bool Contact, bool AllowsAdd);

/// <summary>The users with a block between them and the caller, either way.</summary>
public sealed record BlockedEitherWay(IReadOnlyList<Guid> UserIds);

/// <summary>
/// <c>POST /internal/v1/relations</c> <c>{ userIds }</c> → <c>{ items: [relation] }</c>: what Messaging asks, with the
/// acting user's own token, before it opens a direct conversation, adds members or rings. Not routed by the Gateway
/// (no <c>/internal</c> path is): only services reach it, and each answer is about the token's own user.
/// </summary>
public static class Relations
{
    public const int MaxUserIds = 1000;

    public static WebApplication MapRelations(this WebApplication app)
    {
        app.MapPost("/internal/v1/relations", QueryAsync).RequireAuthorization().ExcludeFromDescription();
        app.MapGet("/internal/v1/relations/blocked", BlockedAsync).RequireAuthorization().ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// <c>GET /internal/v1/relations/blocked</c> → <c>{ userIds }</c>: everyone the token's user blocked or is blocked by
    /// (the Gateway hides the user's typing from them). Nobody learns this about another user: each answer is the caller's.
    /// </summary>
    private static async Task<Results<Ok<BlockedEitherWay>, ProblemHttpResult>> BlockedAsync(ClaimsPrincipal principal, IdentityDb db, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        var ids = await db.Blocks.AsNoTracking()
            .Where(b => b.OwnerId == me || b.BlockedUserId == me)
            .Select(b => b.OwnerId == me ? b.BlockedUserId : b.OwnerId)
            .Distinct()
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new BlockedEitherWay(ids));
    }

    private static async Task<Results<Ok<Page<Relation>>, ValidationProblem, ProblemHttpResult>> QueryAsync(
        RelationsQuery query, ClaimsPrincipal principal, IdentityDb db, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        var ids = (query.UserIds ?? []).Distinct().ToList();
        if (ids.Count > MaxUserIds)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["userIds"] = [$"At most {MaxUserIds}."] });
        if (ids.Count == 0)
            return TypedResults.Ok(new Page<Relation>([], null));

        var active = (await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id) && u.DisabledAt == null).Select(u => u.Id)
            .ToListAsync(cancellationToken)).ToHashSet();
        var blocked = (await db.Blocks.AsNoTracking()
            .Where(b => (b.OwnerId == me && ids.Contains(b.BlockedUserId)) || (b.BlockedUserId == me && ids.Contains(b.OwnerId)))
            .Select(b => b.OwnerId == me ? b.BlockedUserId : b.OwnerId)
            .ToListAsync(cancellationToken)).ToHashSet();
        var theirContact = (await db.Contacts.AsNoTracking().Where(c => c.ContactUserId == me && ids.Contains(c.OwnerId)).Select(c => c.OwnerId)
            .ToListAsync(cancellationToken)).ToHashSet();
        var contactsOnly = (await db.PrivacySettings.AsNoTracking()
            .Where(p => ids.Contains(p.UserId) && p.WhoCanAdd == PrivacySetting.Contacts).Select(p => p.UserId)
            .ToListAsync(cancellationToken)).ToHashSet();

        var items = ids.Select(id => new Relation(id, active.Contains(id), blocked.Contains(id), theirContact.Contains(id),
            !contactsOnly.Contains(id) || theirContact.Contains(id))).ToList();
        return TypedResults.Ok(new Page<Relation>(items, null));
    }
}
