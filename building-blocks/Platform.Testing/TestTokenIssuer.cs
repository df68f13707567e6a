using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Platform.Testing;

/// <summary>
/// A stand-in for Identity's token endpoint in tests of other services: a real HTTP server on loopback that
/// publishes OIDC discovery and a JWKS, and signs access tokens shaped like Identity's. Services validate
/// them through their normal path (<c>Auth:MetadataAddress</c> = <see cref="Url"/>).
/// </summary>
public sealed class TestTokenIssuer : IAsyncDisposable
{
    private readonly WebApplication _server;
    private readonly RsaSecurityKey _key;

    /// <summary>The issuer test hosts are configured with (<see cref="ServiceFactory{TProgram}"/>).</summary>
    public const string DefaultIssuer = "http://gateway.test/";

    public string Issuer { get; }

    public string Url { get; }

    /// <summary>What Identity's <c>POST /internal/v1/relations</c> answers here: every user exists and nothing stands between users, unless set.</summary>
    public RelationsStandIn Relations { get; }

    private TestTokenIssuer(WebApplication server, RsaSecurityKey key, string issuer, string url, RelationsStandIn relations)
    {
        _server = server;
        _key = key;
        Issuer = issuer;
        Url = url;
        Relations = relations;
    }

    public static async Task<TestTokenIssuer> StartAsync(string issuer = DefaultIssuer)
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
        jwk.Use = "sig";
        jwk.Alg = SecurityAlgorithms.RsaSha256;

        var relations = new RelationsStandIn();
        var (server, address) = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/internal/v1/relations", async (HttpContext context) =>
            {
                var bearer = context.Request.Headers.Authorization.ToString();
                if (!bearer.StartsWith("Bearer ", StringComparison.Ordinal))
                    return Results.StatusCode(401);
                var caller = Guid.Parse(new JsonWebToken(bearer["Bearer ".Length..]).Subject);
                var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
                var ids = body.RootElement.GetProperty("userIds").EnumerateArray().Select(e => e.GetGuid()).ToList();
                return Results.Json(new { items = ids.Select(id => relations.Answer(caller, id)).ToList(), next = (string?)null });
            });
            app.MapGet("/.well-known/openid-configuration", (HttpContext context) => Results.Json(new
            {
                issuer,
                jwks_uri = $"{context.Request.Scheme}://{context.Request.Host}/.well-known/jwks",
                token_endpoint = $"{context.Request.Scheme}://{context.Request.Host}/connect/token",
                grant_types_supported = new[] { "client_credentials" },
                token_endpoint_auth_methods_supported = new[] { "client_secret_basic", "client_secret_post" },
                id_token_signing_alg_values_supported = new[] { SecurityAlgorithms.RsaSha256 },
            }));
            // Client credentials as Identity answers them for services (role service, the scopes asked for); any
            // client id and secret are accepted: this stand-in checks callees, not callers.
            app.MapPost("/connect/token", async (HttpContext context) =>
            {
                var form = await context.Request.ReadFormAsync();
                var clientId = form["client_id"].ToString();
                if (clientId.Length == 0 && context.Request.Headers.Authorization.ToString() is { Length: > 6 } basic && basic.StartsWith("Basic "))
                    clientId = Uri.UnescapeDataString(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(basic[6..])).Split(':')[0]);
                if (form["grant_type"] != "client_credentials" || clientId.Length == 0)
                    return Results.Json(new { error = "invalid_request" }, statusCode: 400);
                var token = CreateServiceToken(issuer, key, clientId, form["scope"].ToString(), TimeSpan.FromHours(1));
                return Results.Json(new { access_token = token, token_type = "Bearer", expires_in = 3600 });
            });
            app.MapGet("/.well-known/jwks", () => Results.Json(new { keys = new[] { new { jwk.Kty, jwk.Kid, jwk.Use, jwk.Alg, jwk.N, jwk.E } } },
                new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase }));
        });
        var url = address.ToString();
        return new TestTokenIssuer(server, key, issuer, url, relations);
    }

    /// <summary>An access token as Identity issues it: <c>sub</c>, <c>name</c>, <c>role</c>, audience <c>api</c>.</summary>
    public string CreateToken(
        Guid userId,
        string name = "Test User",
        IEnumerable<string>? roles = null,
        string audience = "api",
        TimeSpan? lifetime = null,
        string? issuer = null)
    {
        var now = DateTime.UtcNow;
        var claims = new List<Claim> { new("sub", userId.ToString()), new("name", name) };
        claims.AddRange((roles ?? []).Select(role => new Claim("role", role)));
        var expires = now + (lifetime ?? TimeSpan.FromHours(1));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = expires < now ? expires.AddMinutes(-5) : now,
            NotBefore = expires < now ? expires.AddMinutes(-5) : now,
            Expires = expires,
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>A service's client-credentials token as Identity issues it: <c>sub</c> the client id, role <c>service</c>, the scopes.</summary>
    public string CreateServiceToken(string clientId, string scope, TimeSpan? lifetime = null) =>
        CreateServiceToken(Issuer, _key, clientId, scope, lifetime ?? TimeSpan.FromHours(1));

    private static string CreateServiceToken(string issuer, RsaSecurityKey key, string clientId, string scope, TimeSpan lifetime)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "api",
            Subject = new ClaimsIdentity([new("sub", clientId), new("name", clientId), new("role", "service"), new("scope", scope)]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();
}

/// <summary>
/// The relations Identity would answer (its <c>Features/Relations.cs</c>), set by a test: users that do not exist,
/// blocks (either way), strangers (the owner does not have the other as a contact; everyone else is a contact here, so
/// direct conversations are no message requests unless a test says so), users who let only contacts add them.
/// </summary>
public sealed class RelationsStandIn
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Kind, Guid A, Guid B), bool> _facts = new();

    public void NoSuchUser(Guid userId) => _facts[("missing", userId, Guid.Empty)] = true;

    public void Block(Guid owner, Guid blocked) => _facts[("block", owner, blocked)] = true;

    public void Stranger(Guid owner, Guid other) => _facts[("stranger", owner, other)] = true;

    public void OnlyContactsAdd(Guid userId) => _facts[("contacts-add", userId, Guid.Empty)] = true;

    internal object Answer(Guid caller, Guid other)
    {
        var contact = !_facts.ContainsKey(("stranger", other, caller));
        return new
        {
            userId = other,
            exists = !_facts.ContainsKey(("missing", other, Guid.Empty)),
            blocked = _facts.ContainsKey(("block", caller, other)) || _facts.ContainsKey(("block", other, caller)),
            contact,
            allowsAdd = contact || !_facts.ContainsKey(("contacts-add", other, Guid.Empty)),
        };
    }
}
