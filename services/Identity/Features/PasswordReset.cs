using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

public sealed record PasswordResetRequest(string? Email);

public sealed record PasswordResetConfirmation(string? Email, string? Code, string? NewPassword);

/// <summary>
/// <c>POST /api/v1/password-reset</c> answers 202 whether or not the email belongs to an account (no enumeration); for
/// an active account it emails an 8-digit code (<see cref="PasswordResetRequested"/>, delivered by Notifications).
/// <c>POST /api/v1/password-reset/confirm</c> with the code sets the new password and signs the account out everywhere.
/// A code works once, for <c>Identity:PasswordResetLifetime</c>, and is void after <c>PasswordResetMaxAttempts</c> wrong tries.
/// </summary>
public static class PasswordReset
{
    private static readonly TimeSpan MinimumInterval = TimeSpan.FromMinutes(1);

    public static RouteGroupBuilder MapPasswordReset(this RouteGroupBuilder api)
    {
        api.MapPost("/password-reset", RequestAsync).AllowAnonymous();
        api.MapPost("/password-reset/confirm", ConfirmAsync).AllowAnonymous();
        return api;
    }

    private static async Task<Results<Accepted, ValidationProblem>> RequestAsync(
        PasswordResetRequest request,
        IdentityDb db,
        TimeProvider time,
        IOptions<IdentityServiceOptions> options,
        CancellationToken cancellationToken)
    {
        if (request.Email is not { Length: <= 256 } raw || ContactAddresses.NormaliseEmail(raw) is not { } email)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["email"] = ["Not a valid email address."] });

        var now = time.GetUtcNow();
        if (await AddressOwnership.ResolveAsync(db, AddressOwnership.Email, email, cancellationToken) is { IsDisabled: false } user)
        {
            var existing = await db.PasswordResetCodes.SingleOrDefaultAsync(c => c.UserId == user.Id, cancellationToken);
            // One email a minute at most, whoever keeps asking.
            if (existing is null || now - existing.CreatedAt >= MinimumInterval)
            {
                var code = RandomNumberGenerator.GetInt32(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture);
                if (existing is null)
                    db.PasswordResetCodes.Add(existing = new PasswordResetCode { UserId = user.Id });
                existing.CodeHash = Hash(user.Id, code);
                existing.CreatedAt = now;
                existing.ExpiresAt = now + options.Value.PasswordResetLifetime;
                existing.Attempts = 0;
                db.Add(new PasswordResetRequested
                {
                    RequestId = Guid.CreateVersion7(now), UserId = user.Id, Email = email, Code = code, ExpiresAt = existing.ExpiresAt, RequestedAt = now,
                }, now);
                await db.SaveChangesAsync(cancellationToken);
            }
        }
        return TypedResults.Accepted((string?)null);
    }

    private static async Task<Results<NoContent, ValidationProblem>> ConfirmAsync(
        PasswordResetConfirmation request,
        UserManager<User> users,
        IdentityDb db,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictTokenManager tokens,
        PasswordWork passwordWork,
        TimeProvider time,
        IOptions<IdentityServiceOptions> options,
        CancellationToken cancellationToken)
    {
        var wrong = TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["code"] = ["The code is wrong or has expired."] });
        if (request.NewPassword is not { Length: > 0 and <= Register.PasswordMaxLength } password)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["newPassword"] = [$"A password of at most {Register.PasswordMaxLength} characters is required."] });
        if (request.Email is not { Length: <= 256 } raw || ContactAddresses.NormaliseEmail(raw) is not { } email
            || request.Code is not { Length: > 0 and <= 32 } code)
            return wrong;

        var now = time.GetUtcNow();
        if (await AddressOwnership.ResolveAsync(db, AddressOwnership.Email, email, cancellationToken) is not { IsDisabled: false } user
            || await db.PasswordResetCodes.SingleOrDefaultAsync(c => c.UserId == user.Id, cancellationToken) is not { } stored
            || stored.ExpiresAt <= now || stored.Attempts >= options.Value.PasswordResetMaxAttempts)
            return wrong;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored.CodeHash), Encoding.ASCII.GetBytes(Hash(user.Id, code.Trim()))))
        {
            stored.Attempts++;
            await db.SaveChangesAsync(cancellationToken);
            return wrong;
        }

        var policy = new List<string>();
        foreach (var validator in users.PasswordValidators)
            policy.AddRange((await validator.ValidateAsync(users, user, password)).Errors.Select(e => e.Description));
        if (policy.Count > 0)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["newPassword"] = [.. policy] });

        // The new password, and whoever knew the old one is signed out everywhere.
        db.PasswordResetCodes.Remove(stored);
        using (await passwordWork.TurnAsync(cancellationToken))
            user.PasswordHash = users.PasswordHasher.HashPassword(user, password);
        user.SessionsRevokedAt = now;
        db.Add(new UserSessionsRevoked { UserId = user.Id, RevokedAt = now }, now);
        await users.UpdateSecurityStampAsync(user);
        await authorizations.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        await tokens.RevokeBySubjectAsync(user.Id.ToString(), cancellationToken);
        return TypedResults.NoContent();
    }

    private static string Hash(Guid userId, string code) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{userId:N}:{code}")));
}
