using System.Globalization;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;

namespace Platform.Identity.Features;

/// <summary>
/// <c>GET/POST /account/login</c>: the minimal server-rendered sign-in form of the authorization code flow.
/// Plain HTML, no script; the form is protected by an antiforgery token and cookie. On success the browser goes
/// back to the (local) return URL, normally <c>/connect/authorize?...</c>. For an account with two-factor sign-in on, the
/// right password leads to a second form asking for the authenticator's code or a recovery code; until then the browser
/// holds only a short-lived, data-protected cookie naming the account, which nothing but that second form reads.
/// </summary>
public static class LoginPage
{
    public const string Path = "/account/login";

    /// <summary>The half-signed-in state between the password and the two-factor code.</summary>
    public const string PendingCookie = "platform.identity.2fa";

    public static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);

    public static IEndpointRouteBuilder MapLoginPage(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (HttpContext context, IAntiforgery antiforgery, string? returnUrl) =>
            Page(context, antiforgery, SafeReturnUrl(returnUrl), error: null, StatusCodes.Status200OK, codeStep: false))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapPost(Path, PostAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> PostAsync(
        HttpContext context, IAntiforgery antiforgery, SignInLookup signIn, SignInManager<User> signIns, UserManager<User> users, IDataProtectionProvider protection)
    {
        if (!context.Request.HasFormContentType)
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Form expected",
                detail: "Post the login form (application/x-www-form-urlencoded).");
        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (InvalidDataException)
        {
            // A control character such as NUL in a field, too many fields, or a field too long.
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid form",
                detail: "The form could not be read.");
        }
        try
        {
            await antiforgery.ValidateRequestAsync(context);
        }
        catch (AntiforgeryValidationException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid form",
                detail: "The form's antiforgery token is missing or invalid. Reload the login page and try again.");
        }

        var returnUrl = SafeReturnUrl(form["returnUrl"]);
        var address = SignInThrottle.AddressOf(context);
        var protector = protection.CreateProtector("Platform.Identity.LoginPage.TwoFactor").ToTimeLimitedDataProtector();
        if (form.ContainsKey("code"))
            return await CodeStepAsync(context, antiforgery, signIn, signIns, users, protector, form["code"], returnUrl, address);

        var check = await signIn.CheckAsync(form["username"], form["password"], address);
        if (check.Outcome == SignInOutcome.SecondFactorRequired)
        {
            var user = check.User!;
            context.Response.Cookies.Append(PendingCookie, protector.Protect($"{user.Id:N}|{user.SecurityStamp}", PendingLifetime), PendingCookieOptions(context));
            return Page(context, antiforgery, returnUrl, error: null, StatusCodes.Status200OK, codeStep: true);
        }
        if (check.User is null)
            return Refused(context, antiforgery, returnUrl, check, codeStep: false);

        await signIns.SignInAsync(check.User, isPersistent: false);
        return returnUrl is null ? Results.Text("Signed in.") : Results.Redirect(returnUrl);
    }

    /// <summary>The second form: the code, for the account the pending cookie names (if it has not expired).</summary>
    private static async Task<IResult> CodeStepAsync(
        HttpContext context, IAntiforgery antiforgery, SignInLookup signIn, SignInManager<User> signIns, UserManager<User> users,
        ITimeLimitedDataProtector protector, string? code, string? returnUrl, string address)
    {
        User? user = null;
        if (context.Request.Cookies[PendingCookie] is { Length: > 0 and < 1024 } pending)
        {
            try
            {
                // A password reset or sign-out everywhere changes the stamp, which voids the pending sign-in too.
                if (protector.Unprotect(pending).Split('|') is [var id, var stamp] && Guid.TryParseExact(id, "N", out var userId)
                    && await users.FindByIdAsync(userId.ToString()) is { TwoFactorEnabled: true } found && found.SecurityStamp == stamp)
                    user = found;
            }
            catch (CryptographicException)
            {
                // Expired or not ours.
            }
        }
        if (user is null)
        {
            context.Response.Cookies.Delete(PendingCookie, PendingCookieOptions(context));
            return Page(context, antiforgery, returnUrl, "The sign-in has expired. Sign in again.", StatusCodes.Status400BadRequest, codeStep: false);
        }

        var check = await signIn.CompleteSecondFactorAsync(user, code, address);
        if (check.User is null)
            return Refused(context, antiforgery, returnUrl, check, codeStep: check.Outcome != SignInOutcome.Disabled);
        context.Response.Cookies.Delete(PendingCookie, PendingCookieOptions(context));
        await signIns.SignInAsync(check.User, isPersistent: false);
        return returnUrl is null ? Results.Text("Signed in.") : Results.Redirect(returnUrl);
    }

    private static IResult Refused(HttpContext context, IAntiforgery antiforgery, string? returnUrl, PasswordCheck check, bool codeStep)
    {
        if (check.Outcome == SignInOutcome.Throttled)
            context.Response.Headers.RetryAfter = SignInLookup.RetryAfterSeconds(check).ToString(CultureInfo.InvariantCulture);
        return Page(context, antiforgery, returnUrl, SignInLookup.Describe(check),
            check.Outcome == SignInOutcome.Throttled ? StatusCodes.Status429TooManyRequests : StatusCodes.Status400BadRequest, codeStep);
    }

    private static CookieOptions PendingCookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        Secure = context.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = context.Request.PathBase + Path,
        MaxAge = PendingLifetime,
        IsEssential = true,
    };

    private const string PasswordFields = """
        <label for="username">Email, phone or username</label>
        <input id="username" name="username" autocomplete="username" required>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">Sign in</button>
        """;

    private const string CodeFields = """
        <label for="code">The 6-digit code from your authenticator app, or a recovery code</label>
        <input id="code" name="code" autocomplete="one-time-code" autofocus required>
        <button type="submit">Verify</button>
        """;

    /// <summary>Only a path on this host (<see cref="ReturnUrls"/>): the form must not become an open redirect.</summary>
    private static string? SafeReturnUrl(string? url) => ReturnUrls.LocalOrNull(url);

    private static IResult Page(HttpContext context, IAntiforgery antiforgery, string? returnUrl, string? error, int status, bool codeStep)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        var html = HtmlEncoder.Default;
        var body = $$"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in</title>
            <style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem;box-sizing:border-box}.error{color:#b00020}</style>
            </head>
            <body>
            <h1>{{(codeStep ? "Two-factor code" : "Sign in")}}</h1>
            {{(error is null ? "" : $"<p class=\"error\" role=\"alert\">{html.Encode(error)}</p>")}}
            <form method="post" action="{{html.Encode(context.Request.PathBase + Path)}}">
            <input type="hidden" name="{{html.Encode(tokens.FormFieldName)}}" value="{{html.Encode(tokens.RequestToken ?? "")}}">
            <input type="hidden" name="returnUrl" value="{{html.Encode(returnUrl ?? "")}}">
            {{(codeStep ? CodeFields : PasswordFields)}}
            </form>
            </body>
            </html>
            """;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["X-Frame-Options"] = "DENY";
        return Results.Content(body, "text/html; charset=utf-8", statusCode: status);
    }
}
