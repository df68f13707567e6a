using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;
using Platform.ServiceDefaults;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record VerificationRequest(string? Channel);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record VerificationConfirmation(string? Channel, string? Code);

/// <summary>
/// <c>POST /api/v1/users/me/verification</c> <c>{ channel }</c> sends a 6-digit code to the account's email (SMTP) or
/// phone (SMS) through Notifications (<see cref="VerificationCodeRequested"/>); <c>POST .../verification/confirm</c>
/// <c>{ channel, code }</c> verifies the address. The first account to verify an address owns it: it is taken off every
/// other account (<see cref="AddressOwnership.ClaimAsync"/>). A code is stored only as a hash, works for
/// <c>Identity:VerificationLifetime</c>, is void after <c>VerificationMaxAttempts</c> wrong tries, and a new one is sent
/// at most every <c>VerificationResendInterval</c>.
/// </summary>
public static class Verification
{
    public const int CodeLength = 6;

    public static RouteGroupBuilder MapVerification(this RouteGroupBuilder users)
    {
        users.MapPost("/me/verification", SendAsync);
        users.MapPost("/me/verification/confirm", ConfirmAsync);
        return users;
    }

    private static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> SendAsync(
        VerificationRequest request,
        ClaimsPrincipal principal,
        HttpContext http,
        UserManager<User> users,
        IdentityDb db,
        TimeProvider time,
        IOptions<IdentityServiceOptions> options,
        CancellationToken cancellationToken)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (AddressError(request.Channel, user) is { } error)
            return error;
        var channel = request.Channel!;
        var address = AddressOwnership.AddressOf(user, channel)!;
        if (AddressOwnership.IsVerified(user, channel))
            return AlreadyVerified(channel);
        if (await AddressOwnership.IsOwnedAsync(db, channel, address, user.Id, cancellationToken))
            return OwnedByAnother(channel);

        var now = time.GetUtcNow();
        var settings = options.Value;
        var existing = await db.VerificationCodes.SingleOrDefaultAsync(c => c.UserId == user.Id && c.Channel == channel, cancellationToken);
        if (existing is not null && existing.Address == address && now - existing.CreatedAt < settings.VerificationResendInterval)
        {
            var seconds = RetryAfter.Set(http.Response, existing.CreatedAt + settings.VerificationResendInterval - now);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                detail: $"A code was sent a moment ago. Try again in {seconds} s.");
        }

        var code = RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D" + CodeLength, CultureInfo.InvariantCulture);
        if (existing is null)
            db.VerificationCodes.Add(existing = new VerificationCode { UserId = user.Id, Channel = channel });
        existing.Address = address;
        existing.CodeHash = Hash(user.Id, channel, address, code);
        existing.CreatedAt = now;
        existing.ExpiresAt = now + settings.VerificationLifetime;
        existing.Attempts = 0;
        db.Add(new VerificationCodeRequested
        {
            RequestId = Guid.CreateVersion7(now), UserId = user.Id, Channel = channel, Address = address, Code = code,
            ExpiresAt = existing.ExpiresAt, RequestedAt = now,
        }, now);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted((string?)null);
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ConfirmAsync(
        VerificationConfirmation request,
        ClaimsPrincipal principal,
        UserManager<User> users,
        IdentityDb db,
        TimeProvider time,
        IOptions<IdentityServiceOptions> options,
        CancellationToken cancellationToken)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (AddressError(request.Channel, user) is { } error)
            return error;
        var channel = request.Channel!;
        var address = AddressOwnership.AddressOf(user, channel)!;
        if (AddressOwnership.IsVerified(user, channel))
            return TypedResults.NoContent();

        var wrong = TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["code"] = ["The code is wrong or has expired."] });
        var code = request.Code?.Trim();
        if (code is not { Length: CodeLength } || !code.All(char.IsAsciiDigit))
            return wrong;
        var now = time.GetUtcNow();
        // A code sent to an address the account no longer holds (another account verified it) never works.
        if (await db.VerificationCodes.SingleOrDefaultAsync(c => c.UserId == user.Id && c.Channel == channel, cancellationToken) is not { } stored
            || stored.Address != address || stored.ExpiresAt <= now || stored.Attempts >= options.Value.VerificationMaxAttempts)
            return wrong;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored.CodeHash), Encoding.ASCII.GetBytes(Hash(user.Id, channel, address, code))))
        {
            stored.Attempts++;
            await db.SaveChangesAsync(cancellationToken);
            return wrong;
        }

        if (await AddressOwnership.IsOwnedAsync(db, channel, address, user.Id, cancellationToken))
            return OwnedByAnother(channel);
        // One SaveChanges: the verification and the address taken off the other accounts commit together.
        await AddressOwnership.ClaimAsync(db, user, channel, cancellationToken);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another account verified the same address a moment ago.
            return OwnedByAnother(channel);
        }
        catch (DbUpdateConcurrencyException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Changed meanwhile",
                detail: "An account holding this address changed meanwhile. Try again.");
        }
        return TypedResults.NoContent();
    }

    private static ValidationProblem? AddressError(string? channel, User user)
    {
        if (!AddressOwnership.IsChannel(channel))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["channel"] = ["\"email\" or \"phone\"."] });
        if (AddressOwnership.AddressOf(user, channel!) is null)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["channel"] = [channel == AddressOwnership.Email ? "The account has no email address." : "The account has no phone number."],
            });
        return null;
    }

    private static ProblemHttpResult AlreadyVerified(string channel) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Already verified", detail: $"The account's {channel} is verified already.",
        extensions: new Dictionary<string, object?> { ["field"] = "channel" });

    private static ProblemHttpResult OwnedByAnother(string channel) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Verified by another account",
        detail: channel == AddressOwnership.Email ? "Another account has verified this email address." : "Another account has verified this phone number.",
        extensions: new Dictionary<string, object?> { ["field"] = "channel" });

    private static string Hash(Guid userId, string channel, string address, string code) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{userId:N}:{channel}:{address}:{code}")));
}
