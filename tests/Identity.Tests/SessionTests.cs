using System.Net;
using Platform.Contracts.Identity;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>The user's sessions: listed, ended one by one, or all at once ("sign out everywhere").</summary>
public sealed class SessionTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task RevokeAll_RefusesEveryEarlierTokenAtOnce_EndsRefresh_AndTellsTheOtherServices()
    {
        await using var events = await EventRecorder.StartAsync<UserSessionsRevoked, UserDisabled>(identity.Infrastructure.VirtualHost.ConnectionString);
        var account = await _http.RegisterAsync();
        var first = await GrantAsync(account);
        var second = await GrantAsync(account);

        var revoke = await _http.SendAsync(HttpMethod.Post, "/api/v1/users/me/sessions/revoke-all", first.Access);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        foreach (var session in new[] { first, second })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", session.Access)).StatusCode);
            Assert.Equal("invalid_grant", (await (await RefreshAsync(session.Refresh)).JsonAsync()).GetProperty("error").GetString());
        }
        var published = await events.WaitForAsync<UserSessionsRevoked>(e => e.UserId == account.Id);
        // Signing in again works at once, and the new token is accepted.
        var again = await GrantAsync(account);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", again.Access)).StatusCode);
        Assert.True(published.RevokedAt <= DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Sessions_AreListedPerSignIn_AndOneCanBeEnded_WithoutTouchingTheOthers()
    {
        var account = await _http.RegisterAsync();
        var first = await GrantAsync(account);
        var second = await GrantAsync(account);
        // Without offline_access: no refresh token, so no session of its own to list or end.
        var manager = (await (await _http.PasswordGrantAsync(account.Username, account.Password, "openid api")).JsonAsync()).GetProperty("access_token").GetString();

        var listed = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/sessions", manager)).JsonAsync();
        var sessions = listed.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        Assert.All(sessions, s => Assert.Equal("platform-cli", s.GetProperty("client").GetString()));
        Assert.All(sessions, s => Assert.True(s.GetProperty("createdAt").GetDateTimeOffset() <= s.GetProperty("lastUsedAt").GetDateTimeOffset()));
        var ids = sessions.Select(s => s.GetProperty("id").GetString()!).ToList();

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/me/sessions/{ids[0]}", manager)).StatusCode);

        // Exactly one of the two sign-ins is over: its refresh token and (at Identity) its access token are refused.
        var refreshed = new[] { await RefreshAsync(first.Refresh), await RefreshAsync(second.Refresh) };
        Assert.Single(refreshed, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Single(refreshed, r => r.StatusCode == HttpStatusCode.BadRequest);
        var ended = refreshed[0].StatusCode == HttpStatusCode.BadRequest ? first : second;
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", ended.Access)).StatusCode);
        var after = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/sessions", manager)).JsonAsync();
        Assert.Equal([ids[1]], after.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task EndingASession_OfSomeoneElseOrThatDoesNotExist_Returns404()
    {
        var owner = await _http.RegisterAsync();
        var ownerToken = await GrantAsync(owner);
        var other = await _http.RegisterAsync();
        var otherToken = await GrantAsync(other);
        var ownerSession = (await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me/sessions", ownerToken.Access)).JsonAsync())
            .GetProperty("items")[0].GetProperty("id").GetString();

        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/me/sessions/{ownerSession}", otherToken.Access)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/me/sessions/{Guid.NewGuid()}", otherToken.Access)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, "/api/v1/users/me/sessions/not-an-id", otherToken.Access)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(ownerToken.Refresh)).StatusCode);
    }

    [Fact]
    public async Task ADisabledUsersAccessToken_IsRefusedByIdentityAtOnce()
    {
        var admin = await _http.RegisterAsync();
        await identity.MakeAdminAsync(admin.Id);
        var adminToken = await _http.TokenAsync(admin);
        var user = await _http.RegisterAsync();
        var token = await _http.TokenAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", token)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{user.Id}/disable", adminToken)).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(HttpMethod.Get, "/api/v1/contacts", token)).StatusCode);
    }

    private async Task<(string Access, string Refresh)> GrantAsync(Account account)
    {
        var json = await (await _http.PasswordGrantAsync(account.Username, account.Password)).JsonAsync();
        return (json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!);
    }

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-cli", ["refresh_token"] = refreshToken,
        }));
}
