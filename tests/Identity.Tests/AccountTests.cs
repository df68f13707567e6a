using System.Net;
using System.Net.Http.Json;
using System.Text;
using Platform.Testing;

namespace Platform.Identity.Tests;

public sealed class AccountTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task Register_WithEmail_Returns201WithTheProfileAndAUsernameFromTheDisplayName()
    {
        var email = Api.UniqueEmail("Zoe");
        var response = await _http.PostAsJsonAsync("/api/v1/users", new { email = "  " + email.ToUpperInvariant() + " ", password = Api.Password, displayName = "Zoë O'Brien" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var profile = await response.JsonAsync();
        Assert.Equal(email.ToLowerInvariant(), profile.GetProperty("email").GetString());
        Assert.StartsWith("zoe.obrien", profile.GetProperty("username").GetString());
        Assert.Equal($"/api/v1/users/{profile.GetProperty("id").GetGuid()}", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Register_TwoUsersWithTheSameDisplayName_GetDistinctUsernames()
    {
        var first = await _http.RegisterAsync(displayName: "Same Name");
        var second = await _http.RegisterAsync(displayName: "Same Name");

        Assert.Equal("same.name", first.Username);
        Assert.NotEqual(first.Username, second.Username);
        Assert.StartsWith("same.name", second.Username);
    }

    [Fact]
    public async Task Register_WithAVerifiedAccountsEmail_Returns409_ButAnUnverifiedOneDoesNotBlockIt()
    {
        var existing = await _http.RegisterAsync();

        var squatter = await _http.RegisterAsync(email: existing.Email!.ToUpperInvariant());
        Assert.Equal(existing.Email, squatter.Email);

        await identity.VerifyAsync(existing);
        var before = await identity.CountUsersAsync();
        var response = await _http.PostAsJsonAsync("/api/v1/users", new { email = existing.Email!.ToUpperInvariant(), password = Api.Password, displayName = "Copy" });

        await Api.AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("email", (await response.JsonAsync()).GetProperty("field").GetString());
        Assert.Equal(before, await identity.CountUsersAsync());
    }

    [Fact]
    public async Task Register_WithAVerifiedPhoneInAnotherNotation_Returns409()
    {
        var phone = Api.UniquePhone();
        var owner = await _http.RegisterAsync(phone: phone);
        var national = $"({phone[2..5]}) {phone[5..8]}-{phone[8..]}";
        await _http.RegisterAsync(phone: national);
        await identity.VerifyAsync(owner);

        var response = await _http.PostAsJsonAsync("/api/v1/users", new { phone = national, password = Api.Password, displayName = "Copy" });

        await Api.AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("phone", (await response.JsonAsync()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Register_WithDuplicateUsername_Returns409()
    {
        var existing = await _http.RegisterAsync(username: "taken_" + Random.Shared.Next(100_000, 999_999));

        var response = await _http.PostAsJsonAsync("/api/v1/users",
            new { email = Api.UniqueEmail(), password = Api.Password, displayName = "Copy", username = existing.Username.ToUpperInvariant() });

        await Api.AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("username", (await response.JsonAsync()).GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("(202) 555-0143", "+12025550143")]
    [InlineData("202.555.0144", "+12025550144")]
    [InlineData("+1 202 555 0145", "+12025550145")]
    [InlineData("+49 30 901820", "+4930901820")]
    public async Task Register_WithPhone_StoresItInE164AndSignsInWithAnyNotation(string given, string e164)
    {
        var account = await _http.RegisterAsync(phone: given);

        Assert.Equal(e164, account.Phone);
        var signIn = await _http.PasswordGrantAsync(given, Api.Password);
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
    }

    public static TheoryData<string, string> BadRegistrations => new()
    {
        { "malformed JSON", """{"email": "a@example.com", """ },
        { "not an object", """["a@example.com"]""" },
        { "email of the wrong type", """{"email": 42, "password": "a-long-test-password", "displayName": "X"}""" },
        { "displayName of the wrong type", """{"email": "wrongtype@example.com", "password": "a-long-test-password", "displayName": {"a": 1}}""" },
        { "unknown field", """{"email": "unknown@example.com", "password": "a-long-test-password", "displayName": "X", "isAdmin": true}""" },
        { "invalid email", """{"email": "not-an-email", "password": "a-long-test-password", "displayName": "X"}""" },
        { "email with a display part", """{"email": "Eve <eve@example.com>", "password": "a-long-test-password", "displayName": "X"}""" },
        { "invalid phone", """{"phone": "12", "password": "a-long-test-password", "displayName": "X"}""" },
        { "phone with letters", """{"phone": "call me maybe", "password": "a-long-test-password", "displayName": "X"}""" },
        { "neither email nor phone", """{"password": "a-long-test-password", "displayName": "X"}""" },
        { "short password", """{"email": "short@example.com", "password": "abc12", "displayName": "X"}""" },
        { "common password", """{"email": "common@example.com", "password": "password123", "displayName": "X"}""" },
        { "password with too few distinct characters", """{"email": "same@example.com", "password": "aaaaaaaaaaaa", "displayName": "X"}""" },
        { "missing display name", """{"email": "noname@example.com", "password": "a-long-test-password"}""" },
        { "display name too long", $$"""{"email": "long@example.com", "password": "a-long-test-password", "displayName": "{{new string('x', 65)}}"}""" },
        { "invalid username", """{"email": "badname@example.com", "password": "a-long-test-password", "displayName": "X", "username": "no spaces!"}""" },
        { "unknown invite token", """{"email": "invited@example.com", "password": "a-long-test-password", "displayName": "X", "inviteToken": "nope"}""" },
    };

    [Theory]
    [MemberData(nameof(BadRegistrations))]
    public async Task Register_WithBadInput_Returns400ProblemDetailsAndCreatesNothing(string because, string json)
    {
        var before = await identity.CountUsersAsync();

        var response = await _http.PostAsync("/api/v1/users", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{because}: {(int)response.StatusCode}");
        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(before, await identity.CountUsersAsync());
    }

    [Fact]
    public async Task Register_WithAnOversizedBody_Returns413AndCreatesNothing()
    {
        var before = await identity.CountUsersAsync();
        var json = $$"""{"email": "big@example.com", "password": "a-long-test-password", "displayName": "{{new string('x', 600_000)}}"}""";

        var response = await _http.PostAsync("/api/v1/users", new StringContent(json, Encoding.UTF8, "application/json"));

        await Api.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(before, await identity.CountUsersAsync());
    }

    [Fact]
    public async Task Register_WithoutJsonContentType_Returns415()
    {
        var response = await _http.PostAsync("/api/v1/users", new StringContent("email=a@example.com", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Me_WithTheTokenOfTheUser_ReturnsThePrivateProfile()
    {
        var account = await _http.RegisterAsync(displayName: "Me Myself");
        var token = await _http.TokenAsync(account);

        var response = await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await response.JsonAsync();
        Assert.Equal(account.Id, me.GetProperty("id").GetGuid());
        Assert.Equal(account.Email, me.GetProperty("email").GetString());
        Assert.Equal("Me Myself", me.GetProperty("displayName").GetString());
    }

    [Fact]
    public async Task Me_WithoutAToken_Returns401()
    {
        var response = await _http.GetAsync("/api/v1/users/me");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task PatchMe_ChangesOnlyTheGivenFields_AndNullClearsOptionalOnes()
    {
        var account = await _http.RegisterAsync(displayName: "Before");
        var token = await _http.TokenAsync(account);
        var avatar = Guid.NewGuid();
        var newName = "after_" + Random.Shared.Next(100_000, 999_999);
        await _http.SendAsync(HttpMethod.Patch, "/api/v1/users/me", token, new { statusText = "busy", avatarMediaId = avatar });

        var response = await _http.SendAsync(HttpMethod.Patch, "/api/v1/users/me", token, new { displayName = "After", username = newName, statusText = (string?)null });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).JsonAsync();
        Assert.Equal("After", me.GetProperty("displayName").GetString());
        Assert.Equal(newName, me.GetProperty("username").GetString());
        Assert.Equal(avatar, me.GetProperty("avatarMediaId").GetGuid());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, me.GetProperty("statusText").ValueKind);
    }

    [Theory]
    [InlineData("""{"displayName": null}""")]
    [InlineData("""{"displayName": 5}""")]
    [InlineData("""{"username": "Not Valid"}""")]
    [InlineData("""{"avatarMediaId": "not-a-guid"}""")]
    [InlineData("""{"statusText": [1, 2]}""")]
    [InlineData("""{"email": "new@example.com"}""")]
    [InlineData("""{"displayName": "x" """)]
    public async Task PatchMe_WithBadInput_Returns400AndChangesNothing(string json)
    {
        var account = await _http.RegisterAsync(displayName: "Unchanged");
        var token = await _http.TokenAsync(account);

        var response = await _http.SendAsync(HttpMethod.Patch, "/api/v1/users/me", token, new StringContent(json, Encoding.UTF8, "application/json"));

        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var me = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", token)).JsonAsync();
        Assert.Equal("Unchanged", me.GetProperty("displayName").GetString());
        Assert.Equal(account.Username, me.GetProperty("username").GetString());
    }

    [Fact]
    public async Task PatchMe_ToATakenUsername_Returns409()
    {
        var other = await _http.RegisterAsync();
        var account = await _http.RegisterAsync();
        var token = await _http.TokenAsync(account);

        var response = await _http.SendAsync(HttpMethod.Patch, "/api/v1/users/me", token, new { username = other.Username });

        await Api.AssertProblemAsync(response, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task GetUser_ReturnsThePublicProfileWithoutEmailOrPhone()
    {
        var target = await _http.RegisterAsync(phone: Api.UniquePhone(), displayName: "Public Person");
        var token = await _http.TokenAsync(await _http.RegisterAsync());

        var response = await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/{target.Id}", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var profile = await response.JsonAsync();
        Assert.Equal("Public Person", profile.GetProperty("displayName").GetString());
        Assert.False(profile.TryGetProperty("email", out _));
        Assert.False(profile.TryGetProperty("phone", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/{Guid.NewGuid()}", token)).StatusCode);
    }

    [Fact]
    public async Task SearchUsers_FindsByUsernamePrefixAndDisplayName_InPages()
    {
        var tag = "srch" + Random.Shared.Next(10_000, 99_999);
        for (var i = 0; i < 3; i++)
            await _http.RegisterAsync(username: $"{tag}_{i}");
        await _http.RegisterAsync(displayName: $"Someone {tag.ToUpperInvariant()} Else");
        var token = await _http.TokenAsync(await _http.RegisterAsync());

        var first = await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users?q={tag}&limit=2", token)).JsonAsync();
        var next = first.GetProperty("next").GetString();
        var second = await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users?q={tag}&limit=2&cursor={next}", token)).JsonAsync();

        var names = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray())
            .Select(item => item.GetProperty("username").GetString()).ToList();
        Assert.Equal(4, names.Count);
        Assert.Equal(4, names.Distinct().Count());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, second.GetProperty("next").ValueKind);
    }

    [Theory]
    [InlineData("/api/v1/users")]
    [InlineData("/api/v1/users?q=")]
    [InlineData("/api/v1/users?q=a&limit=0")]
    [InlineData("/api/v1/users?q=a&limit=abc")]
    [InlineData("/api/v1/users?q=a&cursor=%%%")]
    public async Task SearchUsers_WithBadParameters_Returns400(string path)
    {
        var token = await _http.TokenAsync(await _http.RegisterAsync());

        var response = await _http.SendAsync(HttpMethod.Get, path, token);

        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }
}
