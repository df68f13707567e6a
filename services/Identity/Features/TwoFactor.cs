using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;

namespace Platform.Identity.Features;

public sealed record TwoFactorStatus(bool Enabled, int RecoveryCodesLeft);

public sealed record AuthenticatorSetup(string SharedKey, string AuthenticatorUri);

public sealed record RecoveryCodeList(IReadOnlyList<string> RecoveryCodes);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record EnableTwoFactorRequest(string? Code);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PasswordConfirmation(string? Password);

/// <summary>
/// TOTP two-factor sign-in with recovery codes (ASP.NET Core Identity's authenticator key and recovery codes):
/// <c>GET /users/me/two-factor</c>; <c>POST .../authenticator</c> makes a new key (while two-factor is off);
/// <c>POST .../enable</c> with a code of that key turns it on and answers 10 recovery codes; <c>POST .../disable</c> and
/// <c>POST .../recovery-codes</c> ask for the password. With two-factor on, the login page asks for a code after the
/// password and the password grant wants the <c>otp</c> parameter (<see cref="SignInLookup"/>).
/// </summary>
public static class TwoFactor
{
    public static RouteGroupBuilder MapTwoFactor(this RouteGroupBuilder users)
    {
        users.MapGet("/me/two-factor", GetAsync);
        users.MapPost("/me/two-factor/authenticator", NewAuthenticatorAsync);
        users.MapPost("/me/two-factor/enable", EnableAsync);
        users.MapPost("/me/two-factor/disable", DisableAsync);
        users.MapPost("/me/two-factor/recovery-codes", NewRecoveryCodesAsync);
        return users;
    }

    private static async Task<Results<Ok<TwoFactorStatus>, ProblemHttpResult>> GetAsync(ClaimsPrincipal principal, UserManager<User> users)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        return TypedResults.Ok(new TwoFactorStatus(user.TwoFactorEnabled, user.TwoFactorEnabled ? await users.CountRecoveryCodesAsync(user) : 0));
    }

    private static async Task<Results<Ok<AuthenticatorSetup>, ProblemHttpResult>> NewAuthenticatorAsync(ClaimsPrincipal principal, UserManager<User> users)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (user.TwoFactorEnabled)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Two-factor sign-in is on",
                detail: "Turn two-factor sign-in off (with the password) before setting up another authenticator.");
        await users.ResetAuthenticatorKeyAsync(user);
        var key = (await users.GetAuthenticatorKeyAsync(user))!;
        return TypedResults.Ok(new AuthenticatorSetup(key, TwoFactorCodes.AuthenticatorUri(user.UserName!, key)));
    }

    private static async Task<Results<Ok<RecoveryCodeList>, ValidationProblem, ProblemHttpResult>> EnableAsync(
        EnableTwoFactorRequest request, ClaimsPrincipal principal, UserManager<User> users, TimeProvider time)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (user.TwoFactorEnabled)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Two-factor sign-in is on",
                detail: "Two-factor sign-in is on already.");
        if (await users.GetAuthenticatorKeyAsync(user) is null)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["code"] = ["Set up an authenticator first (POST /api/v1/users/me/two-factor/authenticator)."],
            });
        var code = request.Code?.Trim().Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (code is not { Length: 6 } || !code.All(char.IsAsciiDigit) || !await TwoFactorCodes.VerifyAuthenticatorCodeAsync(users, user, code, time))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["code"] = ["Not the authenticator's current 6-digit code."] });

        await users.SetTwoFactorEnabledAsync(user, true);
        var codes = await users.GenerateNewTwoFactorRecoveryCodesAsync(user, TwoFactorCodes.RecoveryCodeCount);
        return TypedResults.Ok(new RecoveryCodeList([.. codes!]));
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DisableAsync(
        PasswordConfirmation request, ClaimsPrincipal principal, HttpContext http, UserManager<User> users, SignInLookup signIn)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (await PasswordErrorAsync(request.Password, user, http, signIn) is { } error)
            return error;
        if (user.TwoFactorEnabled)
        {
            await users.SetTwoFactorEnabledAsync(user, false);
            // The old key and codes are void: turning it on again needs a new authenticator.
            await users.GenerateNewTwoFactorRecoveryCodesAsync(user, 0);
            await users.ResetAuthenticatorKeyAsync(user);
        }
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<RecoveryCodeList>, ValidationProblem, ProblemHttpResult>> NewRecoveryCodesAsync(
        PasswordConfirmation request, ClaimsPrincipal principal, HttpContext http, UserManager<User> users, SignInLookup signIn)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        if (!user.TwoFactorEnabled)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Two-factor sign-in is off",
                detail: "Recovery codes belong to two-factor sign-in, which is off.");
        if (await PasswordErrorAsync(request.Password, user, http, signIn) is { } error)
            return error;
        var codes = await users.GenerateNewTwoFactorRecoveryCodesAsync(user, TwoFactorCodes.RecoveryCodeCount);
        return TypedResults.Ok(new RecoveryCodeList([.. codes!]));
    }

    /// <summary>The account's password, checked (and throttled) like a sign-in.</summary>
    private static async Task<ProblemHttpResult?> PasswordErrorAsync(string? password, User user, HttpContext http, SignInLookup signIn)
    {
        var check = await signIn.CheckAsync(user.UserName, password, SignInThrottle.AddressOf(http));
        if (check.User?.Id == user.Id)
            return null;
        if (check.Outcome == SignInOutcome.Throttled)
        {
            http.Response.Headers.RetryAfter = SignInLookup.RetryAfterSeconds(check).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests", detail: SignInLookup.Describe(check));
        }
        return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Wrong password",
            detail: "The password is wrong.", extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["password"] = ["The password is wrong."] } });
    }
}
