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
        return app;
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
