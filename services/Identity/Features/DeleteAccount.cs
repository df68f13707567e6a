using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Hosting;
using Platform.ServiceDefaults;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record DeleteAccountRequest(string? Password);

/// <summary>
/// <c>DELETE /api/v1/users/me</c> <c>{ password }</c>: the user erases their account. Identity erases what it holds at
/// once, in one transaction: addresses, names, password, contacts and blocks (both ways), privacy settings, invites, reset
/// codes, sign-in records, sessions and tokens, and the outbox messages that carried any of it. The account's row stays
/// as a tombstone (the id, <see cref="TombstoneDisplayName"/>, disabled) so the id in other services' history still
/// resolves. <see cref="UserDeleted"/>, staged in the same transaction, has every other service erase its part and
/// refuse the user's tokens; the Gateways close the user's connections.
/// </summary>
public static class DeleteAccount
{
    public const string TombstoneDisplayName = "Deleted user";

    public static RouteGroupBuilder MapDeleteAccount(this RouteGroupBuilder users)
    {
        users.MapDelete("/me", HandleAsync)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status429TooManyRequests);
        return users;
    }

    private static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> HandleAsync(
        [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] DeleteAccountRequest? request,
        HttpContext http,
        ClaimsPrincipal principal,
        UserManager<User> users,
        SignInLookup signIn,
        IdentityDb db,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request?.Password))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["password"] = ["The account's password, to confirm the deletion."] });
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();

        var check = await signIn.CheckUserAsync(user, request.Password, SignInThrottle.AddressOf(http));
        switch (check.Outcome)
        {
            case SignInOutcome.Throttled:
                var seconds = SignInLookup.RetryAfterSeconds(check);
                http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"Too many wrong passwords. Try again in {seconds} s.");
            case SignInOutcome.Invalid:
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Wrong password",
                    detail: "The password is wrong; the account was not deleted.", extensions: new Dictionary<string, object?> { ["field"] = "password" });
            case SignInOutcome.Disabled:
                return Me.NoAccount();
        }

        await EraseAsync(db, user, time.GetUtcNow(), cancellationToken);
        return TypedResults.Accepted((string?)null);
    }

    /// <summary>Erases the account, leaving the tombstone, and stages <see cref="UserDeleted"/>; one transaction.</summary>
    public static async Task EraseAsync(IdentityDb db, User user, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var id = user.Id;
        var subject = id.ToString();
        var strategy = db.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.Contacts.Where(c => c.OwnerId == id || c.ContactUserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.Blocks.Where(b => b.OwnerId == id || b.BlockedUserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.PrivacySettings.Where(p => p.UserId == id).ExecuteDeleteAsync(cancellationToken);
            // Invites the user sent (others' addresses) and the one they accepted (their own address).
            await db.Invites.Where(i => i.InvitedBy == id || i.AcceptedBy == id).ExecuteDeleteAsync(cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync($"DELETE FROM identity.data_exports WHERE \"UserId\" = {id}", cancellationToken);
            await db.PasswordResetCodes.Where(c => c.UserId == id).ExecuteDeleteAsync(cancellationToken);
            // Verification codes name the address they went to. (The authenticator key, its last code and the recovery
            // codes are user tokens, below.)
            await db.VerificationCodes.Where(c => c.UserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.SignInAddresses.Where(a => a.UserId == id).ExecuteDeleteAsync(cancellationToken);
            // Counters under the account's id (alone and with an address); names never typed right are kept only as hashes.
            await db.SignInCounters.Where(c => c.Key.EndsWith(subject)).ExecuteDeleteAsync(cancellationToken);
            await db.UserRoles.Where(r => r.UserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.UserClaims.Where(c => c.UserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.UserLogins.Where(l => l.UserId == id).ExecuteDeleteAsync(cancellationToken);
            await db.UserTokens.Where(t => t.UserId == id).ExecuteDeleteAsync(cancellationToken);
            // Deleted, not revoked: Identity's own API looks every access token up by its entry, so none is accepted after this.
            await db.Set<OpenIddictEntityFrameworkCoreToken>().Where(t => t.Subject == subject).ExecuteDeleteAsync(cancellationToken);
            await db.Set<OpenIddictEntityFrameworkCoreAuthorization>().Where(a => a.Subject == subject).ExecuteDeleteAsync(cancellationToken);
            // Events about the user (registration, profile changes, reset codes, invites) carried names and addresses. Those
            // not yet published go too: UserDeleted follows them, and a service that never heard of the user has nothing to erase.
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                DELETE FROM identity.outbox
                WHERE "Payload" ->> 'userId' = {subject} OR "Payload" ->> 'ownerId' = {subject} OR "Payload" ->> 'invitedBy' = {subject}
                """, cancellationToken);

            var tracked = await db.Users.SingleAsync(u => u.Id == id, cancellationToken);
            tracked.UserName = "deleted-" + id.ToString("N");
            tracked.NormalizedUserName = tracked.UserName.ToUpperInvariant();
            tracked.Email = tracked.NormalizedEmail = null;
            tracked.EmailConfirmed = false;
            tracked.PhoneNumber = null;
            tracked.PhoneNumberConfirmed = false;
            tracked.EmailHash = tracked.PhoneHash = null;
            tracked.PasswordHash = null;
            tracked.SecurityStamp = Guid.NewGuid().ToString("N");
            tracked.ConcurrencyStamp = Guid.NewGuid().ToString();
            tracked.TwoFactorEnabled = false;
            tracked.LockoutEnd = null;
            tracked.AccessFailedCount = 0;
            tracked.DisplayName = TombstoneDisplayName;
            tracked.AvatarMediaId = null;
            tracked.StatusText = null;
            tracked.DisabledAt ??= now;
            tracked.DisabledBy = id;
            tracked.SessionsRevokedAt = now;
            db.Add(new UserDeleted { UserId = id, DeletedAt = now }, now);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
    }
}
