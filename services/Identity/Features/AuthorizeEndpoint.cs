using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Features;

/// <summary>
/// <c>GET/POST /connect/authorize</c> for <c>platform-web</c> (code + PKCE S256; OpenIddict has validated the client,
/// redirect URI and challenge). A visitor without a sign-in cookie is sent to the login page and comes back here.
/// Our own first-party client: consent is implicit.
/// </summary>
public static class AuthorizeEndpoint
{
    public static IEndpointRouteBuilder MapAuthorizeEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], HandleAsync).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, UserManager<User> users, TimeProvider time)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request is missing.");

        var cookie = await context.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var user = cookie.Succeeded ? await users.GetUserAsync(cookie.Principal!) : null;
        var tooOld = request.MaxAge is { } maxAge && cookie.Properties?.IssuedUtc is { } issued
            && time.GetUtcNow() - issued > TimeSpan.FromSeconds(maxAge);
        // A browser session from before "sign out everywhere" is over too.
        var ended = user?.SessionsRevokedAt is { } revokedAt && (cookie.Properties?.IssuedUtc is not { } signedIn
            || signedIn < revokedAt.AddTicks(-(revokedAt.UtcTicks % TimeSpan.TicksPerSecond))); // the cookie keeps whole seconds

        if (user is null || user.IsDisabled || tooOld || ended || request.HasPromptValue(PromptValues.Login))
        {
            if (request.HasPromptValue(PromptValues.None))
                return OidcResults.Error(Errors.LoginRequired, "The user is not signed in.");

            // The login page brings the browser back here; without "prompt" so that prompt=login does not loop.
            var parameters = context.Request.HasFormContentType ? context.Request.Form.ToList() : context.Request.Query.ToList();
            parameters.RemoveAll(p => p.Key == Parameters.Prompt);
            var returnUrl = context.Request.PathBase + context.Request.Path + QueryString.Create(parameters);
            return Results.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [IdentityConstants.ApplicationScheme]);
        }

        var principal = TokenPrincipals.ForUser(user, await users.GetRolesAsync(user), request.GetScopes(), time.GetUtcNow());
        return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }
}
