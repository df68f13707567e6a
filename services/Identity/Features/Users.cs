using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Identity.Data;

namespace Platform.Identity.Features;

/// <summary><c>GET /api/v1/users/{id}</c> and <c>GET /api/v1/users?q=</c>: public profiles, for mentions and adding members.</summary>
public static class Users
{
    public const int MaxLimit = 50;

    public static RouteGroupBuilder MapUsers(this RouteGroupBuilder users)
    {
        users.MapGet("/{id:guid}", GetAsync);
        users.MapGet("/", SearchAsync);
        return users;
    }

    private static async Task<Results<Ok<PublicProfile>, NotFound>> GetAsync(Guid id, IdentityDb db, CancellationToken cancellationToken) =>
        await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id, cancellationToken) is { } user
            ? TypedResults.Ok(PublicProfile.From(user))
            : TypedResults.NotFound();

    private static async Task<Results<Ok<Page<PublicProfile>>, ValidationProblem>> SearchAsync(
        string? q, int? limit, string? cursor, IdentityDb db, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var query = q?.Trim();
        if (string.IsNullOrEmpty(query) || query.Length > 64 || query.Any(char.IsControl))
            errors["q"] = ["1 to 64 characters to search usernames and display names for."];
        if (limit is < 1 or > MaxLimit)
            errors["limit"] = [$"1 to {MaxLimit}."];
        var after = DecodeCursor(cursor);
        if (cursor is not null && after is null)
            errors["cursor"] = ["Not a cursor this endpoint returned."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);

        var take = limit ?? 20;
        var pattern = query!.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");
        var matches = db.Users.AsNoTracking().Where(u => u.DisabledAt == null
            && (EF.Functions.ILike(u.UserName!, pattern + "%") || EF.Functions.ILike(u.DisplayName, "%" + pattern + "%")));
        if (after is not null)
#pragma warning disable CA1309 // Translated to SQL by EF Core (UserName > after): the column's collation orders it, as the ORDER BY does.
            matches = matches.Where(u => string.Compare(u.UserName, after) > 0);
#pragma warning restore CA1309
        var found = await matches.OrderBy(u => u.UserName).Take(take + 1).ToListAsync(cancellationToken);

        var items = found.Take(take).Select(PublicProfile.From).ToList();
        var next = found.Count > take ? EncodeCursor(items[^1].Username) : null;
        return TypedResults.Ok(new Page<PublicProfile>(items, next));
    }

    private static string EncodeCursor(string username) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(username)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeCursor(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor) || cursor.Length > 64)
            return null;
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=')));
            return Domain.Usernames.IsValid(decoded) ? decoded : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
