using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Features;

public sealed record SessionView(string Id, string Client, DateTimeOffset? CreatedAt, DateTimeOffset? LastUsedAt);

/// <summary>
/// The user's sessions: one per OpenIddict authorization (a sign-in that holds a refresh token or a code), listed and
/// ended one by one; and "sign out everywhere", which also refuses every access token issued before it, here and, through
/// <see cref="UserSessionsRevoked"/>, in every service, and closes the user's live connections.
/// </summary>
public static class Sessions
{
    public static RouteGroupBuilder MapSessions(this RouteGroupBuilder users)
    {
        users.MapGet("/me/sessions", ListAsync);
        users.MapDelete("/me/sessions/{id}", EndAsync);
        users.MapPost("/me/sessions/revoke-all", RevokeAllAsync);
        return users;
    }

    private static async Task<Results<Ok<Page<SessionView>>, NotFound>> ListAsync(
        ClaimsPrincipal principal,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictApplicationManager applications,
        IOpenIddictTokenManager tokens,
        CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me)
            return TypedResults.NotFound();
        var sessions = new List<SessionView>();
        await foreach (var authorization in authorizations.FindBySubjectAsync(me.ToString(), cancellationToken))
        {
            if (!await authorizations.HasStatusAsync(authorization, Statuses.Valid, cancellationToken))
                continue;
            var id = (await authorizations.GetIdAsync(authorization, cancellationToken))!;
            var client = await authorizations.GetApplicationIdAsync(authorization, cancellationToken) is { } applicationId
                && await applications.FindByIdAsync(applicationId, cancellationToken) is { } application
                    ? await applications.GetClientIdAsync(application, cancellationToken) ?? ""
                    : "";
            var createdAt = await authorizations.GetCreationDateAsync(authorization, cancellationToken);
            var lastUsed = createdAt;
            var anyValid = false;
            await foreach (var token in tokens.FindByAuthorizationIdAsync(id, cancellationToken))
            {
                if (await tokens.HasStatusAsync(token, Statuses.Valid, cancellationToken))
                    anyValid = true;
                foreach (var at in new[] { await tokens.GetCreationDateAsync(token, cancellationToken), await tokens.GetRedemptionDateAsync(token, cancellationToken) })
                    if (at > lastUsed || lastUsed is null && at is not null)
                        lastUsed = at;
            }
            // A session whose refresh tokens are all spent, revoked or expired can no longer be used: not listed.
            if (anyValid)
                sessions.Add(new SessionView(id, client, createdAt, lastUsed));
        }
        return TypedResults.Ok(new Page<SessionView>([.. sessions.OrderByDescending(s => s.LastUsedAt)], null));
    }

    /// <summary>
    /// Ends one session: its refresh tokens stop working and Identity refuses its access tokens at once; other services
    /// accept an access token it already gave out until that expires (at most the access token lifetime).
    /// </summary>
    private static async Task<Results<NoContent, NotFound>> EndAsync(
        string id,
        ClaimsPrincipal principal,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictTokenManager tokens,
        CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me || !Guid.TryParse(id, out _)
            || await authorizations.FindByIdAsync(id, cancellationToken) is not { } authorization
            || await authorizations.GetSubjectAsync(authorization, cancellationToken) != me.ToString())
            return TypedResults.NotFound();
        await authorizations.TryRevokeAsync(authorization, cancellationToken);
        await tokens.RevokeByAuthorizationIdAsync(id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, NotFound>> RevokeAllAsync(
        ClaimsPrincipal principal,
        UserManager<User> users,
        IdentityDb db,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictTokenManager tokens,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (principal.UserId() is not { } me || await users.FindByIdAsync(me.ToString()) is not { } user)
            return TypedResults.NotFound();
        var now = time.GetUtcNow();
        user.SessionsRevokedAt = now;
        db.Add(new UserSessionsRevoked { UserId = user.Id, RevokedAt = now }, now);
        // Saves the user and the staged event together.
        await users.UpdateSecurityStampAsync(user);
        await authorizations.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        await tokens.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        return TypedResults.NoContent();
    }
}
