using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;

namespace Platform.Identity.Features;

/// <summary>
/// <c>GET/POST /account/login</c>: the minimal server-rendered sign-in form of the authorization code flow.
/// Plain HTML, no script; the form is protected by an antiforgery token and cookie. On success the browser goes
/// back to the (local) return URL, normally <c>/connect/authorize?...</c>.
/// </summary>
public static class LoginPage
{
    public const string Path = "/account/login";

    public static IEndpointRouteBuilder MapLoginPage(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (HttpContext context, IAntiforgery antiforgery, string? returnUrl) =>
            Page(context, antiforgery, SafeReturnUrl(returnUrl), error: null, StatusCodes.Status200OK))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapPost(Path, PostAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> PostAsync(HttpContext context, IAntiforgery antiforgery, SignInLookup signIn, SignInManager<User> signIns)
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
        var check = await signIn.CheckAsync(form["username"], form["password"], SignInThrottle.AddressOf(context));
        if (check.User is null)
        {
            if (check.Outcome == SignInOutcome.Throttled)
                context.Response.Headers.RetryAfter = SignInLookup.RetryAfterSeconds(check).ToString();
            return Page(context, antiforgery, returnUrl, SignInLookup.Describe(check),
                check.Outcome == SignInOutcome.Throttled ? StatusCodes.Status429TooManyRequests : StatusCodes.Status400BadRequest);
        }

        await signIns.SignInAsync(check.User, isPersistent: false);
        return returnUrl is null ? Results.Text("Signed in.") : Results.Redirect(returnUrl);
    }

    /// <summary>Only a path on this host (<see cref="ReturnUrls"/>): the form must not become an open redirect.</summary>
    private static string? SafeReturnUrl(string? url) => ReturnUrls.LocalOrNull(url);

    private static IResult Page(HttpContext context, IAntiforgery antiforgery, string? returnUrl, string? error, int status)
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
            <h1>Sign in</h1>
            {{(error is null ? "" : $"<p class=\"error\" role=\"alert\">{html.Encode(error)}</p>")}}
            <form method="post" action="{{html.Encode(context.Request.PathBase + Path)}}">
            <input type="hidden" name="{{html.Encode(tokens.FormFieldName)}}" value="{{html.Encode(tokens.RequestToken ?? "")}}">
            <input type="hidden" name="returnUrl" value="{{html.Encode(returnUrl ?? "")}}">
            <label for="username">Email, phone or username</label>
            <input id="username" name="username" autocomplete="username" required>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button>
            </form>
            </body>
            </html>
            """;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["X-Frame-Options"] = "DENY";
        return Results.Content(body, "text/html; charset=utf-8", statusCode: status);
    }
}
