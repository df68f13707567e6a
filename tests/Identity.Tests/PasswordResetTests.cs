using System.Net;
using System.Net.Http.Json;
using Platform.Contracts.Identity;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>Password reset by an emailed code: 202 whoever asks, the code once, then signed out everywhere.</summary>
public sealed class PasswordResetTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Reset_WithTheEmailedCode_SetsTheNewPassword_OnceOnly_AndEndsEverySession()
    {
        await using var events = await EventRecorder.StartAsync<PasswordResetRequested, UserSessionsRevoked>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync();
        var oldToken = await _http.TokenAsync(account);

        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsJsonAsync("/api/v1/password-reset", new { email = account.Email!.ToUpperInvariant() })).StatusCode);
        var requested = await events.WaitForAsync<PasswordResetRequested>(e => e.UserId == account.Id);
        Assert.Equal(account.Email, requested.Email);
        Assert.Matches("^[0-9]{8}$", requested.Code);

        var wrongCode = await ConfirmAsync(account.Email, requested.Code == "00000000" ? "00000001" : "00000000", "a-brand-new-password");
        await Api.AssertProblemAsync(wrongCode, HttpStatusCode.BadRequest);
        var weak = await ConfirmAsync(account.Email, requested.Code, "aaaaaaaaaa");
        await Api.AssertProblemAsync(weak, HttpStatusCode.BadRequest);

        Assert.Equal(HttpStatusCode.NoContent, (await ConfirmAsync(account.Email, requested.Code, "a-brand-new-password")).StatusCode);

        await Api.AssertProblemAsync(await ConfirmAsync(account.Email, requested.Code, "yet-another-password"), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.PasswordGrantAsync(account.Username, Api.Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(account.Username, "a-brand-new-password")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", oldToken)).StatusCode);
        await events.WaitForAsync<UserSessionsRevoked>(e => e.UserId == account.Id);
    }

    [Fact]
    public async Task Request_ForAnUnknownEmail_Answers202LikeAKnownOne_AndBadInputIs400()
    {
        var unknown = await _http.PostAsJsonAsync("/api/v1/password-reset", new { email = Api.UniqueEmail("nobody") });
        var malformed = await _http.PostAsJsonAsync("/api/v1/password-reset", new { email = "not an email" });
        var confirmUnknown = await ConfirmAsync(Api.UniqueEmail("nobody"), "12345678", "a-brand-new-password");

        Assert.Equal(HttpStatusCode.Accepted, unknown.StatusCode);
        await Api.AssertProblemAsync(malformed, HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(confirmUnknown, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ACode_IsVoidAfterFiveWrongTries_EvenForTheRightOne()
    {
        await using var events = await EventRecorder.StartAsync<PasswordResetRequested, UserSessionsRevoked>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync();
        await _http.PostAsJsonAsync("/api/v1/password-reset", new { email = account.Email });
        var code = (await events.WaitForAsync<PasswordResetRequested>(e => e.UserId == account.Id)).Code;
        var wrong = code == "99999999" ? "99999998" : "99999999";

        for (var i = 0; i < 5; i++)
            await Api.AssertProblemAsync(await ConfirmAsync(account.Email!, wrong, "a-brand-new-password"), HttpStatusCode.BadRequest);

        await Api.AssertProblemAsync(await ConfirmAsync(account.Email!, code, "a-brand-new-password"), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(account.Username, Api.Password)).StatusCode);
    }

    private Task<HttpResponseMessage> ConfirmAsync(string email, string code, string newPassword) =>
        _http.PostAsJsonAsync("/api/v1/password-reset/confirm", new { email, code, newPassword });
}
