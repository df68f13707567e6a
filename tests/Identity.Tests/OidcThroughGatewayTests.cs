using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AngleSharp.Html.Parser;
using Duende.IdentityModel;
using Duende.IdentityModel.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>
/// Identity and the Gateway as real processes, the issuer being the Gateway's URL; a small resource service that
/// validates tokens exactly as every Platform service does (<see cref="Authentication.AddPlatformAuthentication"/>).
/// Everything a client does goes through the Gateway, with an OIDC client library that is not ours.
/// </summary>
public sealed class RunningPlatform : IAsyncLifetime
{
    public const string RedirectUri = "http://127.0.0.1:1/callback";
    public const string ServiceClientId = "messaging";
    public const string ServiceClientSecret = "a-test-only-service-secret";

    private readonly PlatformInfrastructure _infrastructure = new();
    private ServiceProcess? _identity;
    private ServiceProcess? _gateway;
    private WebApplication? _resource;

    public RSA SigningKey { get; } = RSA.Create(2048);

    public Uri Gateway => _gateway!.BaseAddress;

    public Uri IdentityAddress => _identity!.BaseAddress;

    public string Issuer => Gateway.ToString();

    public Uri Resource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _infrastructure.InitializeAsync();
        var gatewayPort = TestInfrastructure.UnusedPort();
        var issuer = $"http://127.0.0.1:{gatewayPort}/";
        var common = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = _infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = issuer,
            ["Auth:RequireHttpsMetadata"] = "false",
        };
        _identity = await ServiceProcess.StartAsync("Identity", new Dictionary<string, string?>(common)
        {
            ["Identity:Keys:SigningKey"] = SigningKey.ExportPkcs8PrivateKeyPem(),
            ["Identity:Clients:WebRedirectUris:0"] = RedirectUri,
            [$"Identity:Clients:Services:{ServiceClientId}:Secret"] = ServiceClientSecret,
            // Long enough that a throttled name and address stay throttled for the whole test, however slow the machine.
            ["Identity:SignInThrottle:FirstDelay"] = "00:10:00",
        });
        _gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(common)
        {
            ["Auth:MetadataAddress"] = _identity.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:identity:Destinations:primary:Address"] = _identity.BaseAddress.ToString(),
        }, port: gatewayPort);

        // Another service, validating tokens exactly as every service does.
        (_resource, var resource) = await LoopbackServer.StartAsync(
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapGet("/whoami", (ClaimsPrincipal user) => new
                {
                    sub = user.FindFirstValue("sub"),
                    name = user.Identity?.Name,
                    roles = user.FindAll("role").Select(c => c.Value).ToArray(),
                }).RequireAuthorization();
            },
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Auth:Issuer"] = issuer,
                    ["Auth:MetadataAddress"] = _identity.BaseAddress.ToString(),
                    ["Auth:RequireHttpsMetadata"] = "false",
                });
                builder.AddPlatformAuthentication();
            });
        Resource = resource;
    }

    public async Task DisposeAsync()
    {
        if (_resource is not null)
            await _resource.DisposeAsync();
        if (_gateway is not null)
            await _gateway.DisposeAsync();
        if (_identity is not null)
            await _identity.DisposeAsync();
        await _infrastructure.DisposeAsync();
    }

    public string Logs => $"Identity:\n{_identity?.Output}\nGateway:\n{_gateway?.Output}";
}

public sealed class OidcThroughGatewayTests(RunningPlatform platform) : IClassFixture<RunningPlatform>
{
    private const string Scopes = "openid profile email offline_access api";

    private HttpClient Client(HttpMessageHandler? handler = null) =>
        new(handler ?? new HttpClientHandler()) { BaseAddress = platform.Gateway, Timeout = TimeSpan.FromSeconds(30) };

    private async Task<DiscoveryDocumentResponse> DiscoverAsync(HttpClient http)
    {
        var discovery = await http.GetDiscoveryDocumentAsync(new DiscoveryDocumentRequest
        {
            Address = platform.Issuer,
            Policy = { RequireHttps = false, ValidateIssuerName = true, ValidateEndpoints = true },
        });
        Assert.False(discovery.IsError, $"{discovery.Error}\n{platform.Logs}");
        return discovery;
    }

    [Fact]
    public async Task Discovery_ThroughTheGateway_NamesTheGatewayAsIssuerAndEveryEndpoint()
    {
        using var http = Client();

        var discovery = await DiscoverAsync(http);

        Assert.Equal(platform.Issuer, discovery.Issuer);
        foreach (var endpoint in new[] { discovery.AuthorizeEndpoint, discovery.TokenEndpoint, discovery.UserInfoEndpoint, discovery.RevocationEndpoint, discovery.JwksUri })
            Assert.StartsWith(platform.Issuer, endpoint);
        Assert.Equal(["S256"], discovery.CodeChallengeMethodsSupported);
        Assert.NotEmpty(discovery.KeySet!.Keys);
    }

    [Fact]
    public async Task AuthorizationCodeWithPkce_ThroughTheLoginForm_IssuesTokens_ThatRefreshWithRotation_AndReuseRevokesTheFamily()
    {
        using var api = Client();
        var account = await api.RegisterAsync(displayName: "Web User");
        var discovery = await DiscoverAsync(api);

        var (code, verifier) = await SignInThroughTheBrowserAsync(discovery, account);
        var tokens = await api.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = "platform-web",
            Code = code,
            RedirectUri = RunningPlatform.RedirectUri,
            CodeVerifier = verifier,
        });
        Assert.False(tokens.IsError, tokens.Error + " " + tokens.ErrorDescription);
        Assert.NotNull(tokens.IdentityToken);
        Assert.Equal(account.Id.ToString(), new JsonWebToken(tokens.AccessToken).Subject);

        var userInfo = await api.GetUserInfoAsync(new UserInfoRequest { Address = discovery.UserInfoEndpoint, Token = tokens.AccessToken });
        Assert.False(userInfo.IsError, userInfo.Error);
        Assert.Equal(account.Id.ToString(), userInfo.Claims.Single(c => c.Type == "sub").Value);
        Assert.Equal("Web User", userInfo.Claims.Single(c => c.Type == "name").Value);
        Assert.Equal(account.Email, userInfo.Claims.Single(c => c.Type == "email").Value);

        var first = tokens.RefreshToken!;
        var rotated = await RefreshAsync(api, discovery, "platform-web", first);
        Assert.False(rotated.IsError, rotated.Error);
        Assert.NotEqual(first, rotated.RefreshToken);

        var reuse = await RefreshAsync(api, discovery, "platform-web", first);
        Assert.True(reuse.IsError);
        Assert.Equal("invalid_grant", reuse.Error);
        var successor = await RefreshAsync(api, discovery, "platform-web", rotated.RefreshToken!);
        Assert.Equal("invalid_grant", successor.Error);
    }

    [Fact]
    public async Task AuthorizationRequest_WithoutPkceOrWithPlain_IsRejected()
    {
        using var api = Client();
        var discovery = await DiscoverAsync(api);
        using var browser = Client(new HttpClientHandler { AllowAutoRedirect = false });

        var withoutPkce = await browser.GetAsync(new RequestUrl(discovery.AuthorizeEndpoint!).CreateAuthorizeUrl(
            "platform-web", "code", Scopes, RunningPlatform.RedirectUri, state: "s"));
        var plain = await browser.GetAsync(new RequestUrl(discovery.AuthorizeEndpoint!).CreateAuthorizeUrl(
            "platform-web", "code", Scopes, RunningPlatform.RedirectUri, state: "s", codeChallenge: new string('a', 43), codeChallengeMethod: "plain"));
        var foreignRedirect = await browser.GetAsync(new RequestUrl(discovery.AuthorizeEndpoint!).CreateAuthorizeUrl(
            "platform-web", "code", Scopes, "http://evil.example/callback", state: "s", codeChallenge: Pkce(out _), codeChallengeMethod: "S256"));

        await AssertRejectedAsync(withoutPkce, "code_challenge");
        await AssertRejectedAsync(plain, "code_challenge_method");
        // An unregistered redirect URI is never redirected to.
        Assert.Equal(HttpStatusCode.BadRequest, foreignRedirect.StatusCode);
    }

    [Fact]
    public async Task LoginForm_WithAWrongPasswordOrWithoutTheAntiforgeryToken_Returns400AndNoCode()
    {
        using var api = Client();
        var account = await api.RegisterAsync();
        using var browser = Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        var form = await LoginFormAsync(browser, "/account/login?returnUrl=%2F");

        var wrong = await browser.PostAsync("/account/login", new FormUrlEncodedContent(form.With("username", account.Username).With("password", "wrong-password")));
        var forged = await browser.PostAsync("/account/login", new FormUrlEncodedContent(
            new Dictionary<string, string> { ["username"] = account.Username, ["password"] = Api.Password }));

        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Contains("wrong", await wrong.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Null(forged.Headers.Location);
    }

    [Fact]
    public async Task SignInThrottling_ThroughTheGateway_IsPerClientAddress_NotPerGateway()
    {
        using var api = Client();
        var account = await api.RegisterAsync();
        // The test's client is on loopback, which the Gateway trusts to say whom it forwards for.
        using var attacker = Client();
        attacker.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.31");
        using var owner = Client();
        owner.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.32");

        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await attacker.PasswordGrantAsync(account.Username, "wrong-password-" + i)).StatusCode);
        var throttled = await attacker.PasswordGrantAsync(account.Username, account.Password);
        var fromTheOwner = await owner.PasswordGrantAsync(account.Username, account.Password);

        Assert.Equal("invalid_grant", (await throttled.JsonAsync()).GetProperty("error").GetString());
        Assert.NotNull(throttled.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, fromTheOwner.StatusCode);
    }

    [Fact]
    public async Task Revocation_OfARefreshToken_MakesItUnusable()
    {
        using var api = Client();
        var account = await api.RegisterAsync();
        var discovery = await DiscoverAsync(api);
        var tokens = await PasswordAsync(api, discovery, account);

        var revoked = await api.RevokeTokenAsync(new TokenRevocationRequest
        {
            Address = discovery.RevocationEndpoint,
            ClientId = "platform-cli",
            Token = tokens.RefreshToken!,
            TokenTypeHint = OidcConstants.TokenTypes.RefreshToken,
        });

        Assert.False(revoked.IsError, revoked.Error);
        Assert.Equal("invalid_grant", (await RefreshAsync(api, discovery, "platform-cli", tokens.RefreshToken!)).Error);
    }

    [Fact]
    public async Task PasswordGrant_ForTheCli_GivesATokenThatTheGatewayRoutedApiAndAnotherServiceAccept()
    {
        using var api = Client();
        var account = await api.RegisterAsync(displayName: "Cli User");
        var discovery = await DiscoverAsync(api);

        var tokens = await PasswordAsync(api, discovery, account);

        var me = await api.SendAsync(HttpMethod.Get, "/api/v1/users/me", tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(account.Id, (await me.JsonAsync()).GetProperty("id").GetGuid());
        var whoami = await CallResourceAsync(tokens.AccessToken!);
        Assert.Equal(HttpStatusCode.OK, whoami.StatusCode);
        var claims = await whoami.JsonAsync();
        Assert.Equal(account.Id.ToString(), claims.GetProperty("sub").GetString());
        Assert.Equal("Cli User", claims.GetProperty("name").GetString());
        var jwt = new JsonWebToken(tokens.AccessToken);
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal(["api"], jwt.Audiences);
        Assert.Equal(platform.Issuer, jwt.Issuer);
    }

    [Fact]
    public async Task AnotherService_RejectsTamperedExpiredUnsignedAndWrongAudienceTokens()
    {
        using var api = Client();
        var account = await api.RegisterAsync();
        var real = new JsonWebToken((await PasswordAsync(api, await DiscoverAsync(api), account)).AccessToken);
        var parts = real.EncodedToken.Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64UrlEncoder.Decode(parts[1]))!;
        payload["name"] = JsonSerializer.SerializeToElement("Somebody Else");
        var tampered = $"{parts[0]}.{Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload))}.{parts[2]}";
        var unsigned = $"{Base64UrlEncoder.Encode("""{"alg":"none","typ":"at+jwt"}""")}.{parts[1]}.";

        // Signed with Identity's own key, so only the named defect differs from a valid token.
        var control = Forge(account.Id, "api", DateTime.UtcNow.AddMinutes(5));
        var expired = Forge(account.Id, "api", DateTime.UtcNow.AddMinutes(-5));
        var wrongAudience = Forge(account.Id, "billing", DateTime.UtcNow.AddMinutes(5));

        Assert.Equal(HttpStatusCode.OK, (await CallResourceAsync(real.EncodedToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await CallResourceAsync(control)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallResourceAsync(tampered)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallResourceAsync(unsigned)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallResourceAsync(expired)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallResourceAsync(wrongAudience)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.SendAsync(HttpMethod.Get, "/api/v1/users/me", tampered)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.SendAsync(HttpMethod.Get, "/api/v1/users/me", expired)).StatusCode);
    }

    [Fact]
    public async Task ClientCredentials_ForAServiceClient_GiveAServiceTokenThatOtherServicesAccept()
    {
        using var api = Client();
        var discovery = await DiscoverAsync(api);

        var tokens = await api.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = RunningPlatform.ServiceClientId,
            ClientSecret = RunningPlatform.ServiceClientSecret,
            Scope = "api",
        });
        var wrongSecret = await api.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = RunningPlatform.ServiceClientId,
            ClientSecret = "not-the-secret",
            Scope = "api",
        });

        Assert.False(tokens.IsError, tokens.Error);
        var claims = await (await CallResourceAsync(tokens.AccessToken!)).JsonAsync();
        Assert.Equal(RunningPlatform.ServiceClientId, claims.GetProperty("sub").GetString());
        Assert.Equal(["service"], claims.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.True(wrongSecret.IsError);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.HttpStatusCode);
        Assert.Equal("invalid_client", wrongSecret.Json?.GetProperty("error").GetString());
    }

    private async Task<(string Code, string Verifier)> SignInThroughTheBrowserAsync(DiscoveryDocumentResponse discovery, Account account)
    {
        var challenge = Pkce(out var verifier);
        var state = Guid.NewGuid().ToString("N");
        var authorize = new RequestUrl(discovery.AuthorizeEndpoint!).CreateAuthorizeUrl(
            "platform-web", "code", Scopes, RunningPlatform.RedirectUri, state: state, codeChallenge: challenge, codeChallengeMethod: "S256");
        return (await SignInAsync(authorize, account, state), verifier);
    }

    private async Task<string> SignInAsync(string authorizeUrl, Account account, string state)
    {
        using var browser = Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });

        var toLogin = await browser.GetAsync(authorizeUrl);
        Assert.Equal(HttpStatusCode.Found, toLogin.StatusCode);
        var loginUrl = toLogin.Headers.Location!;
        Assert.StartsWith(platform.Issuer + "account/login", loginUrl.ToString());

        var form = await LoginFormAsync(browser, loginUrl.ToString());
        var posted = await browser.PostAsync("/account/login", new FormUrlEncodedContent(form.With("username", account.Email!).With("password", account.Password)));
        Assert.True(posted.StatusCode == HttpStatusCode.Redirect, $"{(int)posted.StatusCode}: {await posted.Content.ReadAsStringAsync()}");

        var back = await browser.GetAsync(posted.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.Found, back.StatusCode);
        var callback = back.Headers.Location!;
        Assert.StartsWith(RunningPlatform.RedirectUri, callback.ToString());
        var query = System.Web.HttpUtility.ParseQueryString(callback.Query);
        Assert.Equal(state, query["state"]);
        return query["code"] ?? throw new InvalidOperationException($"No code in {callback}");
    }

    /// <summary>An OAuth error shown by the server (400) rather than a code sent to the client.</summary>
    private static async Task AssertRejectedAsync(HttpResponseMessage response, string parameter)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {response.Headers.Location} {body}");
        Assert.Contains("invalid_request", body);
        Assert.Contains(parameter, body);
        Assert.Null(response.Headers.Location);
    }

    private static async Task<Dictionary<string, string>> LoginFormAsync(HttpClient browser, string url)
    {
        var page = await browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var document = new HtmlParser().ParseDocument(await page.Content.ReadAsStringAsync());
        return document.QuerySelectorAll("form input")
            .Where(input => input.GetAttribute("name") is not null)
            .ToDictionary(input => input.GetAttribute("name")!, input => input.GetAttribute("value") ?? "");
    }

    private static string Pkce(out string verifier)
    {
        verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
    }

    private static Task<TokenResponse> RefreshAsync(HttpClient http, DiscoveryDocumentResponse discovery, string clientId, string refreshToken) =>
        http.RequestRefreshTokenAsync(new RefreshTokenRequest { Address = discovery.TokenEndpoint, ClientId = clientId, RefreshToken = refreshToken });

    private static async Task<TokenResponse> PasswordAsync(HttpClient http, DiscoveryDocumentResponse discovery, Account account)
    {
        var tokens = await http.RequestPasswordTokenAsync(new PasswordTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = "platform-cli",
            UserName = account.Username,
            Password = account.Password,
            Scope = Scopes,
        });
        Assert.False(tokens.IsError, tokens.Error + " " + tokens.ErrorDescription);
        return tokens;
    }

    private async Task<HttpResponseMessage> CallResourceAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = platform.Resource, Timeout = TimeSpan.FromSeconds(10) };
        return await http.SendAsync(HttpMethod.Get, "/whoami", token);
    }

    private string Forge(Guid userId, string audience, DateTime expires)
    {
        var key = new RsaSecurityKey(platform.SigningKey);
        key.KeyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromRSASecurityKey(
            new RsaSecurityKey(platform.SigningKey.ExportParameters(false))).ComputeJwkThumbprint());
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = platform.Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", userId.ToString()), new Claim("name", "Forged")]),
            IssuedAt = expires.AddMinutes(-10),
            NotBefore = expires.AddMinutes(-10),
            Expires = expires,
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }
}

internal static class FormExtensions
{
    public static Dictionary<string, string> With(this Dictionary<string, string> form, string key, string value) =>
        new(form) { [key] = value };
}
