using System.Net;
using System.Net.Http.Json;
using Platform.Testing;

namespace Platform.Tests;

/// <summary>TOTP two-factor sign-in through the Gateway: set up, then the password grant needs the code or a recovery code (once).</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class TwoFactorTests(WholePlatform platform)
{
    [Fact]
    public async Task WithTwoFactorOn_ThePasswordGrantNeedsTheCode_OrARecoveryCodeOnce()
    {
        var user = await platform.SignUpAsync("Tess Two Factor");
        var setup = await platform.ReadAsync(await user.Http.PostAsync("api/v1/users/me/two-factor/authenticator", null), HttpStatusCode.OK, "a new authenticator", platform.Identity);
        var key = setup.GetProperty("sharedKey").GetString()!;
        Assert.StartsWith("otpauth://totp/Platform:", setup.GetProperty("authenticatorUri").GetString());
        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/two-factor/enable", new { code = "abc" }), HttpStatusCode.BadRequest, "a malformed code");
        var enabled = await platform.ReadAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/two-factor/enable", new { code = Totp.Code(key) }),
            HttpStatusCode.OK, "enabling with the authenticator's code", platform.Identity);
        var recovery = enabled.GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(10, recovery.Count);

        using var anonymous = platform.Anonymous(platform.Gateway2);
        var without = await platform.ReadAsync(await GrantAsync(anonymous, user, otp: null), HttpStatusCode.BadRequest, "the password alone", platform.Identity);
        Assert.Equal("invalid_grant", without.GetProperty("error").GetString());
        Assert.Contains("two-factor", without.GetProperty("error_description").GetString());
        // The next step's code (accepted: two steps either side), never the one enabling took, even across a step boundary.
        await platform.ReadAsync(await GrantAsync(anonymous, user, Totp.Code(key, stepOffset: 1)), HttpStatusCode.OK, "the password and the code", platform.Identity);
        await platform.ReadAsync(await GrantAsync(anonymous, user, recovery[0]), HttpStatusCode.OK, "a recovery code", platform.Identity);
        await platform.ReadAsync(await GrantAsync(anonymous, user, recovery[0]), HttpStatusCode.BadRequest, "the recovery code again", platform.Identity);

        var status = await platform.ReadAsync(await user.Http.GetAsync("api/v1/users/me/two-factor"), HttpStatusCode.OK, "the two-factor status", platform.Identity);
        Assert.Equal((true, 9), (status.GetProperty("enabled").GetBoolean(), status.GetProperty("recoveryCodesLeft").GetInt32()));
        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/two-factor/disable", new { password = "not the password" }), HttpStatusCode.BadRequest, "disabling with a wrong password");
    }

    private static Task<HttpResponseMessage> GrantAsync(HttpClient http, User user, string? otp)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = user.Username,
            ["password"] = WholePlatform.UserPassword, ["scope"] = "openid api",
        };
        if (otp is not null)
            form["otp"] = otp;
        return http.PostAsync("connect/token", new FormUrlEncodedContent(form));
    }

    private static async Task RefusedAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} instead of {(int)expected}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}
