using System.Globalization;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Features;

/// <summary>
/// <c>POST /connect/token</c>. OpenIddict has already validated the client, its permissions, PKCE and the presented
/// code or refresh token (including reuse detection) before this runs; this decides who the tokens are for.
/// </summary>
public static class TokenEndpoint
{
    /// <summary>The password grant's extra parameter with the two-factor code of an account that has two-factor sign-in on.</summary>
    public const string OtpParameter = "otp";

    public static IEndpointRouteBuilder MapTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost("/connect/token", HandleAsync).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task<Results<SignInHttpResult, ForbidHttpResult>> HandleAsync(
        HttpContext context,
        SignInLookup signIn,
        UserManager<User> users,
        IOpenIddictApplicationManager applications,
        TimeProvider time)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request is missing.");

        if (request.IsPasswordGrantType())
        {
            var address = SignInThrottle.AddressOf(context);
            var check = await signIn.CheckAsync(request.Username, request.Password, address);
            // A two-factor account needs its code (or a recovery code) in the otp parameter as well.
            if (check.Outcome == SignInOutcome.SecondFactorRequired)
                check = (string?)request.GetParameter(OtpParameter) is { Length: > 0 } otp
                    ? await signIn.CompleteSecondFactorAsync(check.User!, otp, address)
                    : check with { User = null };
            if (check.User is null)
            {
                // Still invalid_grant (what OAuth clients understand), with the wait as a hint.
                if (check.Outcome == SignInOutcome.Throttled)
                    context.Response.Headers.RetryAfter = SignInLookup.RetryAfterSeconds(check).ToString(CultureInfo.InvariantCulture);
                return OidcResults.Error(Errors.InvalidGrant, SignInLookup.Describe(check));
            }
            return SignIn(TokenPrincipals.ForUser(check.User, await users.GetRolesAsync(check.User), request.GetScopes(), time.GetUtcNow()));
        }

        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            var stored = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var subject = stored.Principal?.GetClaim(Claims.Subject);
            // Rebuilt from the account as it is now: a disabled user gets nothing, a renamed one the new name.
            if (subject is null || await users.FindByIdAsync(subject) is not { IsDisabled: false } user)
                return OidcResults.Error(Errors.InvalidGrant, "The account is disabled or no longer exists.");
            // A code or refresh token from before a sign-out everywhere (its tokens are revoked too; this holds if that raced).
            if (user.SessionsRevokedAt is { } revokedAt && stored.Principal!.GetCreationDate() is { } created && created < revokedAt.AddSeconds(-1))
                return OidcResults.Error(Errors.InvalidGrant, "The session was ended.");
            return SignIn(TokenPrincipals.ForUser(user, await users.GetRolesAsync(user), stored.Principal!.GetScopes(), time.GetUtcNow()));
        }

        if (request.IsClientCredentialsGrantType())
        {
            // A bot's client acts as the bot's user: its tokens carry the bot's user id as subject, like a user's.
            if (Bots.BotIdOf(request.ClientId!) is { } botId)
            {
                if (await users.FindByIdAsync(botId.ToString()) is not { IsBot: true, IsDisabled: false } bot)
                    return OidcResults.Error(Errors.InvalidGrant, "The bot is disabled or no longer exists.");
                return SignIn(TokenPrincipals.ForUser(bot, await users.GetRolesAsync(bot), request.GetScopes(), time.GetUtcNow()));
            }
            var application = await applications.FindByClientIdAsync(request.ClientId!)
                ?? throw new InvalidOperationException("OpenIddict authenticated a client that does not exist.");
            return SignIn(TokenPrincipals.ForService(request.ClientId!, await applications.GetDisplayNameAsync(application), request.GetScopes()));
        }

        return OidcResults.Error(Errors.UnsupportedGrantType, "This grant type is not supported.");
    }

    private static SignInHttpResult SignIn(System.Security.Claims.ClaimsPrincipal principal) =>
        TypedResults.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
}
