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

    private TestTokenIssuer(WebApplication server, RsaSecurityKey key, string issuer, string url)
    {
        _server = server;
        _key = key;
        Issuer = issuer;
        Url = url;
    }

    public static async Task<TestTokenIssuer> StartAsync(string issuer = DefaultIssuer)
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
        jwk.Use = "sig";
        jwk.Alg = SecurityAlgorithms.RsaSha256;

        var (server, address) = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/.well-known/openid-configuration", (HttpContext context) => Results.Json(new
            {
                issuer,
                jwks_uri = $"{context.Request.Scheme}://{context.Request.Host}/.well-known/jwks",
                id_token_signing_alg_values_supported = new[] { SecurityAlgorithms.RsaSha256 },
            }));
            app.MapGet("/.well-known/jwks", () => Results.Json(new { keys = new[] { new { jwk.Kty, jwk.Kid, jwk.Use, jwk.Alg, jwk.N, jwk.E } } },
                new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase }));
        });
        var url = address.ToString();
        return new TestTokenIssuer(server, key, issuer, url);
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

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();
}
