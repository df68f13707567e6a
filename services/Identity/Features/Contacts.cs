using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

/// <summary>
/// A contact as its owner sees it. <c>Registered</c> is false once the account has been disabled: the contact
/// stays in the list, but cannot be reached.
/// </summary>
public sealed record ContactView(Guid UserId, string Username, string DisplayName, Guid? AvatarMediaId, string? StatusText,
    bool Registered, string Source, DateTimeOffset AddedAt);

/// <summary><c>GET /api/v1/contacts</c> (mine, paged) and <c>DELETE /api/v1/contacts/{userId}</c>.</summary>
public static class Contacts
{
    public const int MaxLimit = 200;

    public static RouteGroupBuilder MapContacts(this RouteGroupBuilder contacts)
    {
        contacts.MapGet("/", ListAsync);
        contacts.MapDelete("/{userId:guid}", DeleteAsync);
        return contacts;
    }

    private static async Task<Results<Ok<Page<ContactView>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        int? limit, Guid? cursor, ClaimsPrincipal principal, IdentityDb db, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        if (limit is < 1 or > MaxLimit)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"1 to {MaxLimit}."] });

        var take = limit ?? 50;
        var query = db.Contacts.AsNoTracking().Where(c => c.OwnerId == me);
        if (cursor is { } after)
            query = query.Where(c => c.ContactUserId.CompareTo(after) > 0);
        var items = await query
            .Join(db.Users, c => c.ContactUserId, u => u.Id, (c, u) => new { Contact = c, User = u })
            .OrderBy(x => x.Contact.ContactUserId)
            .Take(take + 1)
            .Select(x => new ContactView(x.User.Id, x.User.UserName!, x.User.DisplayName, x.User.AvatarMediaId, x.User.StatusText,
                x.User.DisabledAt == null, x.Contact.Source, x.Contact.AddedAt))
            .ToListAsync(cancellationToken);
        var more = items.Count > take;
        if (more)
            items.RemoveAt(take);
        return TypedResults.Ok(new Page<ContactView>(items, more ? items[^1].UserId.ToString() : null));
    }

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DeleteAsync(
        Guid userId, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return Me.NoAccount();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var deleted = await db.Contacts.Where(c => c.OwnerId == me && c.ContactUserId == userId).ExecuteDeleteAsync(cancellationToken);
        if (deleted == 0)
            return TypedResults.NotFound();
        var now = time.GetUtcNow();
        db.Add(new ContactsChanged { OwnerId = me, Removed = [userId], ChangedAt = now }, now);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
