using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>
/// Email and phone verification by code, and what it decides: only verified addresses are matched by contact import
/// and block a registration, and the first account to verify an address takes it from every other account.
/// </summary>
public sealed class VerificationTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Email_VerifiedWithTheSentCode_ShowsInTheProfileAndUserInfo_AndTheCodeWorksOnce()
    {
        await using var events = await EventRecorder.StartAsync<VerificationCodeRequested, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync(phone: Api.UniquePhone(), email: Api.UniqueEmail("verify"));
        var token = await TokenWithScopesAsync(account);
        Assert.Equal((false, false), await VerifiedAsync(token));

        Assert.Equal(HttpStatusCode.Accepted, (await SendCodeAsync(token, "email")).StatusCode);
        var sent = await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == account.Id);
        Assert.Equal(("email", account.Email), (sent.Channel, sent.Address));
        Assert.Matches("^[0-9]{6}$", sent.Code);
        Assert.InRange(sent.ExpiresAt - sent.RequestedAt, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(16));

        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", Wrong(sent.Code)), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.NoContent, (await ConfirmAsync(token, "email", sent.Code)).StatusCode);

        Assert.Equal((true, false), await VerifiedAsync(token));
        var userInfo = await (await _http.SendAsync(HttpMethod.Get, "/connect/userinfo", token)).JsonAsync();
        Assert.True(userInfo.GetProperty("email_verified").GetBoolean());
        Assert.False(userInfo.GetProperty("phone_number_verified").GetBoolean());
        // The code is gone with the verification; asking again for a verified address is a conflict.
        await Api.AssertProblemAsync(await SendCodeAsync(token, "email"), HttpStatusCode.Conflict);
        Assert.Empty(await identity.InScopeAsync(services => services.GetRequiredService<IdentityDb>().VerificationCodes.Where(c => c.UserId == account.Id).ToListAsync()));
    }

    [Fact]
    public async Task Phone_IsVerifiedBySmsCode_InE164()
    {
        await using var events = await EventRecorder.StartAsync<VerificationCodeRequested, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var phone = Api.UniquePhone();
        var account = await _http.RegisterAsync(phone: $"({phone[2..5]}) {phone[5..8]}-{phone[8..]}");
        var token = await _http.TokenAsync(account);

        Assert.Equal(HttpStatusCode.Accepted, (await SendCodeAsync(token, "phone")).StatusCode);
        var sent = await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == account.Id);
        Assert.Equal(("phone", phone), (sent.Channel, sent.Address));
        Assert.Equal(HttpStatusCode.NoContent, (await ConfirmAsync(token, "phone", sent.Code)).StatusCode);

        Assert.Equal((false, true), await VerifiedAsync(token));
    }

    [Fact]
    public async Task ACode_IsVoidAfterFiveWrongTries_AndWhenExpired_AndANewOneWaitsAMinute()
    {
        await using var events = await EventRecorder.StartAsync<VerificationCodeRequested, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);
        await SendCodeAsync(token, "email");
        var code = (await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == account.Id)).Code;

        var again = await SendCodeAsync(token, "email");
        await Api.AssertProblemAsync(again, HttpStatusCode.TooManyRequests);
        Assert.InRange(int.Parse(again.Headers.GetValues("Retry-After").Single()), 1, 60);

        for (var i = 0; i < 5; i++)
            await Api.AssertProblemAsync(await ConfirmAsync(token, "email", Wrong(code)), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", code), HttpStatusCode.BadRequest);

        // A fresh code (once the minute is over), which then expires unused.
        await AgeCodeAsync(account.Id, TimeSpan.FromMinutes(2), expire: false);
        Assert.Equal(HttpStatusCode.Accepted, (await SendCodeAsync(token, "email")).StatusCode);
        var fresh = (await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == account.Id && e.Code != code)).Code;
        await AgeCodeAsync(account.Id, TimeSpan.FromMinutes(16), expire: true);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", fresh), HttpStatusCode.BadRequest);
        Assert.Equal((false, false), await VerifiedAsync(token));
    }

    [Fact]
    public async Task BadInput_IsAProblem_AndChangesNothing()
    {
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);

        await Api.AssertProblemAsync(await SendCodeAsync(token, "carrier-pigeon"), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await SendCodeAsync(token, null), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await SendCodeAsync(token, "phone"), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "phone", "123456"), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", "123456"), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", "12345x"), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await ConfirmAsync(token, "email", null), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/verification", token,
            new StringContent("""{"channel": "email", "to": "someone@example.com"}""", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/verification", null, new { channel = "email" })).StatusCode);
        Assert.Equal((false, false), await VerifiedAsync(token));
    }

    [Fact]
    public async Task ASquattedEmail_BelongsToWhoeverVerifiesIt_ImportFindsOnlyThem_AndTheSquatterLosesIt()
    {
        await using var events = await EventRecorder.StartAsync<VerificationCodeRequested, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var email = Api.UniqueEmail("victim");
        var squatter = await _http.RegisterAsync(email: email, displayName: "Squatter");
        var owner = await _http.RegisterAsync(email: email.ToUpperInvariant(), displayName: "Owner");
        var friend = await _http.RegisterAsync();
        var friendToken = await _http.TokenAsync(friend);
        var squatterToken = await _http.TokenAsync(squatter);
        var ownerToken = await _http.TokenAsync(owner);

        // Unverified: nobody is matched, and with two holders the address signs nobody in (the usernames do).
        Assert.Empty(await ImportAsync(friendToken, email));
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.PasswordGrantAsync(email, Api.Password)).StatusCode);

        await SendCodeAsync(squatterToken, "email");
        var squattersCode = (await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == squatter.Id)).Code;
        await SendCodeAsync(ownerToken, "email");
        var ownersCode = (await events.WaitForAsync<VerificationCodeRequested>(e => e.UserId == owner.Id)).Code;
        Assert.Equal(HttpStatusCode.NoContent, (await ConfirmAsync(ownerToken, "email", ownersCode)).StatusCode);

        Assert.Equal([owner.Id], await ImportAsync(friendToken, email));
        Assert.Equal([owner.Id], await ImportAsync(friendToken, null, ContactAddressHash(email)));
        var squattersProfile = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", squatterToken)).JsonAsync();
        Assert.Equal(System.Text.Json.JsonValueKind.Null, squattersProfile.GetProperty("email").ValueKind);
        Assert.False(squattersProfile.GetProperty("emailVerified").GetBoolean());
        // The squatter's pending code stopped working, and the address is taken now.
        await Api.AssertProblemAsync(await ConfirmAsync(squatterToken, "email", squattersCode), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.Conflict, (await _http.PostAsJsonAsync("/api/v1/users", new { email, password = Api.Password, displayName = "Late" })).StatusCode);
        // The address signs its owner in; the squatter still signs in by username.
        var signedIn = await (await _http.PasswordGrantAsync(email, Api.Password)).JsonAsync();
        var me = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", signedIn.GetProperty("access_token").GetString())).JsonAsync();
        Assert.Equal(owner.Id, me.GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(squatter.Username, Api.Password)).StatusCode);
    }

    [Fact]
    public async Task AnUnverifiedAddress_HeldByOneAccountOnly_StillSignsItInAndResetsItsPassword()
    {
        await using var events = await EventRecorder.StartAsync<PasswordResetRequested, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync(email: Api.UniqueEmail("alone"));

        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(account.Email!, Api.Password)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsJsonAsync("/api/v1/password-reset", new { email = account.Email })).StatusCode);
        await events.WaitForAsync<PasswordResetRequested>(e => e.UserId == account.Id);
    }

    [Fact]
    public async Task DemoUsers_AreSeededVerified()
    {
        await using var demo = identity.NewFactory();
        demo.WithSetting("Identity:SeedDemoUsers", "true").WithSetting("Identity:DemoUserPassword", "a-test-demo-password");
        await identity.StartAsync(demo);

        var alice = await demo.InScopeAsync(services => services.GetRequiredService<UserManager<User>>().FindByNameAsync("alice"));
        Assert.NotNull(alice);
        Assert.True(alice.EmailConfirmed && alice.PhoneNumberConfirmed);
    }

    private async Task<string> TokenWithScopesAsync(Account account)
    {
        var response = await _http.PasswordGrantAsync(account.Username, account.Password, "openid profile email phone api");
        return (await response.JsonAsync()).GetProperty("access_token").GetString()!;
    }

    private async Task<(bool Email, bool Phone)> VerifiedAsync(string token)
    {
        var me = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).JsonAsync();
        return (me.GetProperty("emailVerified").GetBoolean(), me.GetProperty("phoneVerified").GetBoolean());
    }

    private Task<HttpResponseMessage> SendCodeAsync(string token, string? channel) =>
        _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/verification", token, new { channel });

    private Task<HttpResponseMessage> ConfirmAsync(string token, string? channel, string? code) =>
        _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/verification/confirm", token, new { channel, code });

    private async Task<List<Guid>> ImportAsync(string token, string? email, string? hash = null)
    {
        var response = await _http.SendAsync(HttpMethod.Post, "/api/v1/contacts/import", token,
            new { emails = email is null ? Array.Empty<string>() : [email], hashes = hash is null ? Array.Empty<string>() : [hash] });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("userId").GetGuid()).ToList();
    }

    /// <summary>Moves the account's pending code back in time (sent <paramref name="age"/> ago; expired too if asked).</summary>
    private Task AgeCodeAsync(Guid userId, TimeSpan age, bool expire) => identity.InScopeAsync<bool>(async services =>
    {
        var db = services.GetRequiredService<IdentityDb>();
        foreach (var code in await db.VerificationCodes.Where(c => c.UserId == userId).ToListAsync())
        {
            code.CreatedAt -= age;
            if (expire)
                code.ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(-1);
        }
        await db.SaveChangesAsync();
        return true;
    });

    private static string Wrong(string code) => code == "000000" ? "000001" : "000000";

    private static string ContactAddressHash(string email) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(email.ToLowerInvariant())));
}
