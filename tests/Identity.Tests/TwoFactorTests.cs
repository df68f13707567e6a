using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AngleSharp.Html.Parser;
using Microsoft.AspNetCore.Mvc.Testing;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>TOTP two-factor sign-in with recovery codes: set up, the password grant's <c>otp</c>, the login page's second form.</summary>
public sealed class TwoFactorTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Enable_WithTheAuthenticatorsCode_AnswersTenRecoveryCodes()
    {
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);
        Assert.Equal((false, 0), await StatusAsync(token));

        var setup = await (await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/authenticator", token)).JsonAsync();
        var key = setup.GetProperty("sharedKey").GetString()!;
        var uri = setup.GetProperty("authenticatorUri").GetString()!;
        Assert.StartsWith($"otpauth://totp/Platform:{account.Username}?", uri);
        Assert.Contains($"secret={key}", uri);
        Assert.Contains("issuer=Platform", uri);

        await Api.AssertProblemAsync(await EnableAsync(token, Wrong(Totp.Code(key))), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await EnableAsync(token, "abcdef"), HttpStatusCode.BadRequest);
        var enabled = await EnableAsync(token, Totp.Code(key));
        Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        var codes = (await enabled.JsonAsync()).GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(10, codes.Distinct().Count());

        Assert.Equal((true, 10), await StatusAsync(token));
        // No new authenticator while it is on (that would lock the user out of their own).
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/authenticator", token), HttpStatusCode.Conflict);
        await Api.AssertProblemAsync(await EnableAsync(token, Totp.Code(key)), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task PasswordGrant_OfATwoFactorAccount_WantsTheOtp_ACodeOrARecoveryCodeOnce()
    {
        var (account, token, key, codes) = await TwoFactorAccountAsync();

        var without = await _http.PasswordGrantAsync(account.Username, Api.Password);
        var body = await without.JsonAsync();
        Assert.Equal(HttpStatusCode.BadRequest, without.StatusCode);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
        Assert.Contains("two-factor code is required", body.GetProperty("error_description").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await GrantAsync(account.Username, Api.Password, Wrong(Totp.Code(key)))).StatusCode);
        // A right code with a wrong password is just a wrong password.
        Assert.Equal(HttpStatusCode.BadRequest, (await GrantAsync(account.Username, "not-the-password", Totp.Code(key, stepOffset: -1))).StatusCode);

        // The next step's code (the provider accepts two steps either side): never the code enabling took, even when a
        // step boundary passes between the two (the previous step's code would then be that very code, refused as replayed).
        var withCode = Totp.Code(key, stepOffset: 1);
        Assert.Equal(HttpStatusCode.OK, (await GrantAsync(account.Email!, Api.Password, withCode)).StatusCode);
        // The same code is not taken twice.
        Assert.Equal(HttpStatusCode.BadRequest, (await GrantAsync(account.Username, Api.Password, withCode)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await GrantAsync(account.Username, Api.Password, codes[0])).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await GrantAsync(account.Username, Api.Password, codes[0])).StatusCode);
        Assert.Equal((true, 9), await StatusAsync(token));
    }

    [Fact]
    public async Task NewRecoveryCodes_AndDisable_AskForThePassword()
    {
        var (account, token, _, codes) = await TwoFactorAccountAsync();

        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/recovery-codes", token, new { password = "not-the-password" }), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/disable", token, new { password = "not-the-password" }), HttpStatusCode.BadRequest);
        var renewed = await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/recovery-codes", token, new { password = Api.Password });
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
        var fresh = (await renewed.JsonAsync()).GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(10, fresh.Count);
        Assert.Equal(HttpStatusCode.BadRequest, (await GrantAsync(account.Username, Api.Password, codes[1])).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GrantAsync(account.Username, Api.Password, fresh[0])).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/disable", token, new { password = Api.Password })).StatusCode);

        Assert.Equal((false, 0), await StatusAsync(token));
        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(account.Username, Api.Password)).StatusCode);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/recovery-codes", token, new { password = Api.Password }), HttpStatusCode.Conflict);
        await Api.AssertProblemAsync(await EnableAsync(token, "123456"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task LoginPage_AsksForTheCodeAfterThePassword_AndSignsInOnlyWithIt()
    {
        var (account, _, key, codes) = await TwoFactorAccountAsync();
        using var browser = identity.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

        var password = await PostFormAsync(browser, await FormAsync(await browser.GetAsync("/account/login?returnUrl=%2Fsigned-in")),
            ("username", account.Username), ("password", Api.Password));

        Assert.Equal(HttpStatusCode.OK, password.StatusCode);
        var cookies = password.Headers.TryGetValues("Set-Cookie", out var set) ? set.ToList() : [];
        Assert.Contains(cookies, c => c.StartsWith("platform.identity.2fa=", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
        // Half signed in is not signed in: no sign-in cookie yet.
        Assert.DoesNotContain(cookies, c => c.StartsWith("platform.identity=", StringComparison.Ordinal));
        var codeForm = await FormAsync(password);
        Assert.True(codeForm.ContainsKey("code"));
        Assert.False(codeForm.ContainsKey("password"));

        var wrong = await PostFormAsync(browser, codeForm, ("code", Wrong(Totp.Code(key))));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var right = await PostFormAsync(browser, await FormAsync(wrong), ("code", codes[0]));

        Assert.Equal(HttpStatusCode.Redirect, right.StatusCode);
        Assert.Equal("/signed-in", right.Headers.Location?.OriginalString);
        Assert.Contains(right.Headers.GetValues("Set-Cookie"), c => c.StartsWith("platform.identity=", StringComparison.Ordinal));

        // Without the pending state (another browser, or after it expired) a code signs nobody in.
        using var stranger = identity.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var orphan = await PostFormAsync(stranger, await FormAsync(await stranger.GetAsync("/account/login")), ("code", codes[1]));
        Assert.Equal(HttpStatusCode.BadRequest, orphan.StatusCode);
        Assert.Contains("expired", await orphan.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LoginPage_WrongCodes_CountInTheSignInThrottle()
    {
        var (account, _, key, _) = await TwoFactorAccountAsync();
        using var browser = identity.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var page = await PostFormAsync(browser, await FormAsync(await browser.GetAsync("/account/login")), ("username", account.Username), ("password", Api.Password));

        HttpResponseMessage answer = page;
        for (var i = 0; i < 4; i++)
        {
            answer = await PostFormAsync(browser, await FormAsync(answer), ("code", Wrong(Totp.Code(key))));
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        }
        var throttled = await PostFormAsync(browser, await FormAsync(answer), ("code", Totp.Code(key)));

        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.True(throttled.Headers.RetryAfter is not null);
    }

    private async Task<(Account Account, string Token, string Key, List<string> RecoveryCodes)> TwoFactorAccountAsync()
    {
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);
        var key = (await (await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/authenticator", token)).JsonAsync()).GetProperty("sharedKey").GetString()!;
        var enabled = await EnableAsync(token, Totp.Code(key));
        Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        return (account, token, key, (await enabled.JsonAsync()).GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList());
    }

    private Task<HttpResponseMessage> EnableAsync(string token, string code) =>
        _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/two-factor/enable", token, new { code });

    private async Task<(bool Enabled, int Left)> StatusAsync(string token)
    {
        var status = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/two-factor", token)).JsonAsync();
        return (status.GetProperty("enabled").GetBoolean(), status.GetProperty("recoveryCodesLeft").GetInt32());
    }

    private Task<HttpResponseMessage> GrantAsync(string username, string password, string otp) =>
        _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = username, ["password"] = password,
            ["scope"] = "openid api", ["otp"] = otp,
        }));

    private static async Task<Dictionary<string, string>> FormAsync(HttpResponseMessage page)
    {
        var document = new HtmlParser().ParseDocument(await page.Content.ReadAsStringAsync());
        return document.QuerySelectorAll("form input")
            .Where(input => input.GetAttribute("name") is not null)
            .ToDictionary(input => input.GetAttribute("name")!, input => input.GetAttribute("value") ?? "");
    }

    private static Task<HttpResponseMessage> PostFormAsync(HttpClient browser, Dictionary<string, string> form, params (string Name, string Value)[] fields)
    {
        foreach (var (name, value) in fields)
            form[name] = value;
        return browser.PostAsync("/account/login", new FormUrlEncodedContent(form));
    }

    private static string Wrong(string code) => code == "000000" ? "000001" : "000000";
}
