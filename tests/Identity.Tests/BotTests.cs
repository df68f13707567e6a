using System.Net;
using Platform.Contracts.Identity;
using Platform.Testing;

namespace Platform.Identity.Tests;

public sealed class BotTests(IdentityHost identity) : IClassFixture<IdentityHost>
{
    private readonly HttpClient _http = identity.Factory.CreateClient();

    private async Task<string> AdminTokenAsync()
    {
        var admin = await _http.RegisterAsync();
        await identity.MakeAdminAsync(admin.Id);
        return await _http.TokenAsync(admin);
    }

    private Task<HttpResponseMessage> ClientCredentialsAsync(string clientId, string secret) =>
        _http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = secret,
            ["scope"] = "api",
        }));

    private static System.Text.Json.JsonElement Payload(string jwt)
    {
        var part = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        return System.Text.Json.JsonDocument.Parse(Convert.FromBase64String(part.PadRight(part.Length + (4 - part.Length % 4) % 4, '='))).RootElement;
    }

    [Fact]
    public async Task CreateBot_ByAnAdmin_GivesClientCredentialsWhoseTokensAreTheBotUser_AndPublishesUserRegisteredAsBot()
    {
        await using var events = await EventRecorder.StartAsync<UserRegistered, UserDisabled>(identity.Infrastructure.VirtualHost.ConnectionString);
        var adminToken = await AdminTokenAsync();
        var username = "helper" + Guid.NewGuid().ToString("N")[..8];

        var created = await _http.SendAsync(HttpMethod.Post, "/api/v1/bots", adminToken, new { displayName = "Helper Bot", username });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var bot = await created.JsonAsync();
        var botId = bot.GetProperty("userId").GetGuid();
        var token = await ClientCredentialsAsync(bot.GetProperty("clientId").GetString()!, bot.GetProperty("clientSecret").GetString()!);
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
        var accessToken = (await token.JsonAsync()).GetProperty("access_token").GetString()!;
        var claims = Payload(accessToken);
        Assert.Equal(botId.ToString(), claims.GetProperty("sub").GetString());
        Assert.Contains("bot", claims.GetProperty("role").ValueKind == System.Text.Json.JsonValueKind.Array
            ? claims.GetProperty("role").EnumerateArray().Select(r => r.GetString()) : [claims.GetProperty("role").GetString()]);
        // The bot's token works on the API like a user's, and profiles show it as a bot.
        var me = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/users/me", accessToken)).JsonAsync();
        Assert.True(me.GetProperty("isBot").GetBoolean());
        var profile = await (await _http.SendAsync(HttpMethod.Get, $"/api/v1/users/{botId}", adminToken)).JsonAsync();
        Assert.True(profile.GetProperty("isBot").GetBoolean());
        Assert.Equal(username, profile.GetProperty("username").GetString());
        Assert.True((await events.WaitForAsync<UserRegistered>(e => e.UserId == botId)).IsBot);
        var list = await (await _http.SendAsync(HttpMethod.Get, "/api/v1/bots", adminToken)).JsonAsync();
        Assert.Contains(list.GetProperty("items").EnumerateArray(), b => b.GetProperty("userId").GetGuid() == botId);
    }

    [Fact]
    public async Task CreateBot_ByANonAdmin_Returns403_AndBadInput400_AndATakenUsername409()
    {
        var user = await _http.RegisterAsync();
        var userToken = await _http.TokenAsync(user);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(HttpMethod.Post, "/api/v1/bots", userToken, new { displayName = "X", username = "xbot" + Guid.NewGuid().ToString("N")[..6] })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(HttpMethod.Get, "/api/v1/bots", userToken)).StatusCode);

        var adminToken = await AdminTokenAsync();
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/bots", adminToken, new { displayName = "", username = "no spaces allowed!" }), HttpStatusCode.BadRequest);
        await Api.AssertProblemAsync(await _http.SendAsync(HttpMethod.Post, "/api/v1/bots", adminToken, new { displayName = "Taken", username = user.Username }), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task DeleteBot_RefusesItsClientCredentialsAtOnce_AndPublishesUserDisabled()
    {
        await using var events = await EventRecorder.StartAsync<UserRegistered, UserDisabled>(identity.Infrastructure.VirtualHost.ConnectionString);
        var adminToken = await AdminTokenAsync();
        var bot = await (await _http.SendAsync(HttpMethod.Post, "/api/v1/bots", adminToken, new { displayName = "Short Lived", username = "short" + Guid.NewGuid().ToString("N")[..8] })).JsonAsync();
        var botId = bot.GetProperty("userId").GetGuid();
        var (clientId, secret) = (bot.GetProperty("clientId").GetString()!, bot.GetProperty("clientSecret").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, "wrong-secret")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/bots/{botId}", adminToken)).StatusCode);

        Assert.NotEqual(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).StatusCode);
        Assert.Equal(botId, (await events.WaitForAsync<UserDisabled>(e => e.UserId == botId)).UserId);
        // Not a bot (or gone): 404.
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(HttpMethod.Delete, $"/api/v1/bots/{Guid.NewGuid()}", adminToken)).StatusCode);
    }
}
