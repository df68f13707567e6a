using System.Net;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Testing;

namespace Platform.Identity.Tests;

public sealed class SignInTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    [Fact]
    public async Task PasswordGrant_WithEmailUsernameOrPhone_IssuesAnAccessAndRefreshToken()
    {
        var account = await _http.RegisterAsync(email: Api.UniqueEmail(), phone: Api.UniquePhone());

        foreach (var name in new[] { account.Email!, account.Username, account.Phone! })
        {
            var response = await _http.PasswordGrantAsync(name, Api.Password);
            var json = await response.JsonAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(json.TryGetProperty("refresh_token", out _));
        }
    }

    [Fact]
    public async Task PasswordGrant_WithAWrongPassword_ReturnsInvalidGrant()
    {
        var account = await _http.RegisterAsync();

        var response = await _http.PasswordGrantAsync(account.Username, "not-the-password");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_grant", (await response.JsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task AnOutboxRowOfATypeThisVersionDoesNotKnow_WaitsForANewerOne_WithoutHoldingUpTheRest()
    {
        await using var events = await EventRecorder.StartAsync<UserDisabled, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        // Written by a newer release before a rollback: more than a whole batch of them, ahead of what follows.
        await identity.InScopeAsync(async services =>
        {
            var db = services.GetRequiredService<IdentityDb>();
            for (var i = 0; i < 150; i++)
                db.Outbox.Add(new OutboxMessage
                {
                    Id = Guid.CreateVersion7(), Type = "Platform.Contracts.Identity.SomethingNewer", Payload = "{}", CreatedAt = DateTimeOffset.UtcNow,
                });
            return await db.SaveChangesAsync();
        });

        var user = await _http.RegisterAsync();

        Assert.Equal(user.Id, (await events.WaitForAsync<UserRegistered>(e => e.UserId == user.Id)).UserId);
        var waiting = await identity.InScopeAsync(services => Task.FromResult(
            services.GetRequiredService<IdentityDb>().Outbox.Count(m => m.Type == "Platform.Contracts.Identity.SomethingNewer" && m.PublishedAt == null)));
        Assert.Equal(150, waiting);
    }

    [Fact]
    public async Task DisableUser_ByAnAdmin_StopsSignInAndRefresh_AndPublishesUserDisabled()
    {
        await using var events = await EventRecorder.StartAsync<UserDisabled, UserRegistered>(identity.Infrastructure.VirtualHost.ConnectionString);
        var admin = await _http.RegisterAsync();
        await identity.MakeAdminAsync(admin.Id);
        var adminToken = await _http.TokenAsync(admin);
        var target = await _http.RegisterAsync();
        var grant = await (await _http.PasswordGrantAsync(target.Username, Api.Password)).JsonAsync();

        var disable = await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{target.Id}/disable", adminToken);

        Assert.Equal(HttpStatusCode.NoContent, disable.StatusCode);
        var signIn = await _http.PasswordGrantAsync(target.Username, Api.Password);
        Assert.Equal("invalid_grant", (await signIn.JsonAsync()).GetProperty("error").GetString());
        var refresh = await _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = "platform-cli",
            ["refresh_token"] = grant.GetProperty("refresh_token").GetString()!,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
        Assert.Equal("invalid_grant", (await refresh.JsonAsync()).GetProperty("error").GetString());
        var published = await events.WaitForAsync<UserDisabled>(e => e.UserId == target.Id);
        Assert.Equal(admin.Id, published.DisabledBy);
    }

    [Fact]
    public async Task AdminEndpoints_ForANonAdmin_Return403AndChangeNothing()
    {
        var user = await _http.RegisterAsync();
        var token = await _http.TokenAsync(user);
        var target = await _http.RegisterAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{target.Id}/disable", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{user.Id}/roles/admin", token)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await _http.PasswordGrantAsync(target.Username, Api.Password)).StatusCode);
    }

    [Fact]
    public async Task GrantAndRevokeAdmin_ChangeTheRoleInTheNextToken_AndAreToldToTheOtherServices_RevokingEndsTheSessions()
    {
        await using var events = await EventRecorder.StartAsync<UserRolesChanged, UserSessionsRevoked>(identity.Infrastructure.VirtualHost.ConnectionString);
        var admin = await _http.RegisterAsync();
        await identity.MakeAdminAsync(admin.Id);
        var adminToken = await _http.TokenAsync(admin);
        var user = await _http.RegisterAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{user.Id}/roles/admin", adminToken)).StatusCode);
        var granted = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", await _http.TokenAsync(user))).JsonAsync();
        Assert.Contains("admin", granted.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/{user.Id}/roles/admin", adminToken)).StatusCode);
        var userToken = await _http.TokenAsync(user);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(HttpMethod.Post, $"/api/v1/users/{admin.Id}/disable", userToken)).StatusCode);

        var grantedEvent = await events.WaitForAsync<UserRolesChanged>(e => e.UserId == user.Id && e.Roles.Contains("admin"));
        var revokedEvent = await events.WaitForAsync<UserRolesChanged>(e => e.UserId == user.Id && e.Roles.Count == 0);
        Assert.Equal((admin.Id, admin.Id), (grantedEvent.ChangedBy, revokedEvent.ChangedBy));
        Assert.True(revokedEvent.ChangedAt >= grantedEvent.ChangedAt);
        // Revoking ends the sessions that still say admin: every service refuses tokens issued before it.
        Assert.Equal(revokedEvent.ChangedAt, (await events.WaitForAsync<UserSessionsRevoked>(e => e.UserId == user.Id)).RevokedAt);
        // Asking again for what already holds changes nothing, and tells nothing.
        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/users/{user.Id}/roles/admin", adminToken)).StatusCode);
    }

    [Fact]
    public async Task TokenEndpoint_WithAnUnknownClientOrGrant_ReturnsOAuthErrors()
    {
        var unknownClient = await _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "nobody", ["username"] = "x", ["password"] = "y",
        }));
        var webClientPassword = await _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-web", ["username"] = "x", ["password"] = "y",
        }));
        var garbage = await _http.PostAsync("/connect/token", new StringContent("{not a form", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal("invalid_client", (await unknownClient.JsonAsync()).GetProperty("error").GetString());
        Assert.Equal("unauthorized_client", (await webClientPassword.JsonAsync()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal("invalid_request", (await garbage.JsonAsync()).GetProperty("error").GetString());
    }
}
