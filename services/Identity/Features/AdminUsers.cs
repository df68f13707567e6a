using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;
using Platform.ServiceDefaults;

namespace Platform.Identity.Features;

/// <summary>Admin-only: grant and revoke the platform <c>admin</c> role, disable an account.</summary>
public static class AdminUsers
{
    public static RouteGroupBuilder MapAdminUsers(this RouteGroupBuilder users)
    {
        var admin = users.MapGroup("/{id:guid}").RequireAuthorization(Authentication.AdminPolicy);
        admin.MapPost("/roles/admin", GrantAdminAsync);
        admin.MapDelete("/roles/admin", RevokeAdminAsync);
        admin.MapPost("/disable", DisableAsync);
        return users;
    }

    private static Task<Results<NoContent, NotFound>> GrantAdminAsync(Guid id, ClaimsPrincipal principal, UserManager<User> users, IdentityDb db,
        IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens, TimeProvider time, CancellationToken cancellationToken) =>
        ChangeAdminAsync(id, grant: true, principal, users, db, authorizations, tokens, time, cancellationToken);

    private static Task<Results<NoContent, NotFound>> RevokeAdminAsync(Guid id, ClaimsPrincipal principal, UserManager<User> users, IdentityDb db,
        IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens, TimeProvider time, CancellationToken cancellationToken) =>
        ChangeAdminAsync(id, grant: false, principal, users, db, authorizations, tokens, time, cancellationToken);

    /// <summary>
    /// Grants or revokes <c>admin</c>; a change is told to the other services (<see cref="UserRolesChanged"/>, staged in the
    /// outbox with the change itself), so that what only admins may keep stops when the role goes. Revoking also ends the
    /// user's sessions (<see cref="UserSessionsRevoked"/>, as signing out everywhere does): an access token that still says
    /// <c>admin</c> is refused everywhere at once, not only once it expires; the user signs in again, without the role.
    /// </summary>
    private static async Task<Results<NoContent, NotFound>> ChangeAdminAsync(
        Guid id, bool grant, ClaimsPrincipal principal, UserManager<User> users, IdentityDb db,
        IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await users.FindByIdAsync(id.ToString()) is not { } user)
            return TypedResults.NotFound();
        if (await users.IsInRoleAsync(user, DatabaseInitializer.AdminRole) == grant)
            return TypedResults.NoContent();
        var now = time.GetUtcNow();
        var roles = (await users.GetRolesAsync(user)).Where(role => role != DatabaseInitializer.AdminRole).ToList();
        if (grant)
            roles.Add(DatabaseInitializer.AdminRole);
        db.Add(new UserRolesChanged { UserId = user.Id, Roles = roles, ChangedBy = principal.UserId() ?? Guid.Empty, ChangedAt = now }, now);
        if (!grant)
        {
            user.SessionsRevokedAt = now;
            db.Add(new UserSessionsRevoked { UserId = user.Id, RevokedAt = now }, now);
        }
        // The role's change saves the user, its roles and the staged events together.
        var changed = grant ? await users.AddToRoleAsync(user, DatabaseInitializer.AdminRole) : await users.RemoveFromRoleAsync(user, DatabaseInitializer.AdminRole);
        if (!changed.Succeeded)
            throw new InvalidOperationException($"Changing the admin role failed: {string.Join("; ", changed.Errors.Select(e => e.Description))}");
        if (!grant)
        {
            await users.UpdateSecurityStampAsync(user);
            await authorizations.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
            await tokens.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        }
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The account can no longer sign in or refresh; its refresh tokens and authorizations are revoked, and
    /// <see cref="UserDisabled"/> tells other services to drop its sessions (access tokens already issued
    /// stay valid until they expire, at most <c>Identity:Tokens:AccessTokenLifetime</c>).
    /// </summary>
    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DisableAsync(
        Guid id,
        ClaimsPrincipal principal,
        UserManager<User> users,
        IdentityDb db,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictTokenManager tokens,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (await users.FindByIdAsync(id.ToString()) is not { } user)
            return TypedResults.NotFound();
        var adminId = principal.UserId();
        if (adminId == user.Id)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Cannot disable yourself",
                detail: "An admin cannot disable their own account.");

        if (!user.IsDisabled)
        {
            var now = time.GetUtcNow();
            user.DisabledAt = now;
            user.DisabledBy = adminId;
            db.Add(new UserDisabled { UserId = user.Id, DisabledBy = adminId ?? Guid.Empty, DisabledAt = now }, now);
            // UpdateSecurityStamp saves the user (and the staged event) and ends its browser sign-in sessions.
            await users.UpdateSecurityStampAsync(user);
        }
        await authorizations.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        await tokens.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        return TypedResults.NoContent();
    }
}
