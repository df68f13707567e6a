using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Tests;

/// <summary>
/// Email and phone verification through the Gateway, with the code from the real SMTP server and SMS gateway: an address
/// squatted by an unverified account does not keep its owner out, and contact import finds the verified owner only.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class VerificationTests(WholePlatform platform)
{
    [Fact]
    public async Task TheOwnerOfASquattedEmail_RegistersAndVerifiesIt_AndContactImportThenFindsTheOwnerOnly()
    {
        var email = $"victim-{Guid.NewGuid():N}@example.com";
        var squatter = await platform.SignUpAsync("Sam Squats", email: email);
        // The real owner registers the same address: no 409, since nobody verified it.
        var owner = await platform.SignUpAsync("Olivia Owns", email: email.ToUpperInvariant());
        var friend = await platform.SignUpAsync("Frank Imports");
        Assert.Empty(await ImportAsync(friend, email));

        var sent = await owner.Http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "email" });
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var code = await platform.MailedCodeAsync(email);
        Assert.Matches("^[0-9]{6}$", code);
        await RefusedAsync(await owner.Http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "email", code = code == "000000" ? "000001" : "000000" }),
            HttpStatusCode.BadRequest, "a wrong code");
        await platform.ReadAsync(await owner.Http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "email", code }),
            HttpStatusCode.NoContent, "the mailed code", platform.Identity);

        var me = await platform.ReadAsync(await owner.Http.GetAsync("api/v1/users/me"), HttpStatusCode.OK, "the owner's profile", platform.Identity);
        Assert.Equal((email, true), (me.GetProperty("email").GetString(), me.GetProperty("emailVerified").GetBoolean()));
        Assert.Equal([owner.Id], await ImportAsync(friend, email));
        var squatters = await platform.ReadAsync(await squatter.Http.GetAsync("api/v1/users/me"), HttpStatusCode.OK, "the squatter's profile", platform.Identity);
        Assert.Equal(JsonValueKind.Null, squatters.GetProperty("email").ValueKind);
        // The address is taken now.
        using var anonymous = platform.Anonymous(platform.Gateway1);
        await RefusedAsync(await anonymous.PostAsJsonAsync("api/v1/users", new { email, password = WholePlatform.UserPassword, displayName = "Late Copy" }),
            HttpStatusCode.Conflict, "registering the verified address again");
    }

    [Fact]
    public async Task APhone_IsVerifiedByTheTextedCode()
    {
        var phone = $"+1202{Random.Shared.Next(230, 299)}{Random.Shared.Next(1000, 10_000)}";
        using var anonymous = platform.Anonymous(platform.Gateway2);
        var registered = await platform.ReadAsync(await anonymous.PostAsJsonAsync("api/v1/users",
            new { phone, password = WholePlatform.UserPassword, displayName = "Pat Phones" }), HttpStatusCode.Created, "registration by phone", platform.Identity);
        var token = await platform.ReadAsync(await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = phone, ["password"] = WholePlatform.UserPassword, ["scope"] = "openid api",
        })), HttpStatusCode.OK, "sign-in by phone", platform.Identity);
        using var http = platform.Anonymous(platform.Gateway2);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token.GetProperty("access_token").GetString());

        await platform.ReadAsync(await http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "phone" }), HttpStatusCode.Accepted, "asking for a code", platform.Identity);
        var sms = await platform.EventuallyAsync(() => Task.FromResult(platform.Sms.FirstOrDefault(m => m.To == phone)), m => m is not null, "the code is texted", platform.Notifications);
        var code = System.Text.RegularExpressions.Regex.Match(sms!.Text, @"\b[0-9]{6}\b").Value;
        await platform.ReadAsync(await http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "phone", code }), HttpStatusCode.NoContent, "the texted code", platform.Identity);

        var me = await platform.ReadAsync(await http.GetAsync("api/v1/users/me"), HttpStatusCode.OK, "the profile", platform.Identity);
        Assert.Equal(registered.GetProperty("id").GetGuid(), me.GetProperty("id").GetGuid());
        Assert.Equal((true, false), (me.GetProperty("phoneVerified").GetBoolean(), me.GetProperty("emailVerified").GetBoolean()));
    }

    [Fact]
    public async Task BadVerificationRequests_AreProblems()
    {
        var user = await platform.SignUpAsync("Bea Bad Input");

        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "fax" }), HttpStatusCode.BadRequest, "an unknown channel");
        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "phone" }), HttpStatusCode.BadRequest, "no phone on the account");
        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "email", code = "123456" }), HttpStatusCode.BadRequest, "a code never sent");
        await RefusedAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "email", code = "abc" }), HttpStatusCode.BadRequest, "a malformed code");
        using var anonymous = platform.Anonymous(platform.Gateway1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "email" })).StatusCode);
    }

    private async Task<List<Guid>> ImportAsync(User importer, string email) =>
        (await platform.ReadAsync(await importer.Http.PostAsJsonAsync("api/v1/contacts/import", new { emails = new[] { email } }), HttpStatusCode.OK, "contact import", platform.Identity))
            .GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("userId").GetGuid()).ToList();

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
