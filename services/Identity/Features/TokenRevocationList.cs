using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Platform.Identity.Data;

namespace Platform.Identity.Features;

/// <summary>A user whose earlier access tokens are refused: issued before <see cref="NotBefore"/>, or every one when <see cref="All"/>.</summary>
public sealed record TokenRevocationItem(Guid UserId, DateTimeOffset? NotBefore, bool All);

/// <summary>
/// <c>GET /internal/v1/token-revocations</c> → <c>{ items: [{ userId, notBefore, all }] }</c>: the users who signed out
/// everywhere (or reset their password) or were disabled or deleted within the last day, longer than any access token
/// lives. A service instance that starts late loads it, so it refuses what the bus told the others before it existed
/// (<c>Platform.ServiceDefaults.TokenRevocationLoader</c>). Not routed by the Gateway (no <c>/internal</c> path is);
/// it tells only ids and times, and needs no token, because services validate users' tokens without credentials of their
/// own.
/// </summary>
public static class TokenRevocationList
{
    public static readonly TimeSpan Window = TimeSpan.FromDays(1) + TimeSpan.FromMinutes(5);

    public static WebApplication MapTokenRevocationList(this WebApplication app)
    {
        app.MapGet("/internal/v1/token-revocations", ListAsync).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task<Ok<Page<TokenRevocationItem>>> ListAsync(IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - Window;
        var items = await db.Users.AsNoTracking()
            .Where(u => u.SessionsRevokedAt >= since || u.DisabledAt >= since)
            .Select(u => new TokenRevocationItem(u.Id, u.SessionsRevokedAt, u.DisabledAt != null))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<TokenRevocationItem>(items, null));
    }
}
