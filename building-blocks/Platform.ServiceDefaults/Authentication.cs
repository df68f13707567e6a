using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Platform.ServiceDefaults;

/// <summary>How services validate the access tokens Identity issues, bound from the <c>Auth</c> section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The issuer in the tokens: the Gateway's public URL.</summary>
    [Required, Url]
    public string Issuer { get; set; } = "";

    /// <summary>Where a service fetches discovery and the signing keys (JWKS): Identity's internal URL.</summary>
    [Url]
    public string? MetadataAddress { get; set; }

    [Required]
    public string Audience { get; set; } = "api";

    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>
    /// How long a token that passed the full check is answered from memory when it comes again (never past its expiry;
    /// revocation is checked every time): <see cref="ValidatedTokens"/>. 0 checks every request in full.
    /// </summary>
    [Range(0, 3600)]
    public int ValidatedTokenCacheSeconds { get; set; } = 300;

    /// <summary>At most this many validated tokens are kept (a few kB each).</summary>
    [Range(1, 1_000_000)]
    public int ValidatedTokenCacheSize { get; set; } = 10_000;
}

public static class Authentication
{
    public const string AdminPolicy = "admin";

    /// <summary>
    /// JWT bearer validation of Identity's access tokens (offline, from its JWKS). Every endpoint requires an
    /// authenticated user unless it opts out; the <see cref="AdminPolicy"/> policy requires the <c>admin</c> role.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>()
            .BindConfiguration(AuthOptions.Section)
            .ValidateDataAnnotations()
            .Validate(
                options => !options.RequireHttpsMetadata || (options.MetadataAddress ?? options.Issuer).StartsWith("https://", StringComparison.OrdinalIgnoreCase),
                "Auth:MetadataAddress (or Auth:Issuer when it is not set) must be an https:// URL unless Auth:RequireHttpsMetadata is false.")
            .ValidateOnStart();

        builder.Services.TryAddSingleton<TokenRevocations>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<ValidatedTokens>();
        builder.Services.AddHttpClient(TokenRevocationLoader.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(10));
        builder.Services.AddHostedService<TokenRevocationLoader>();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthOptions>>((jwt, auth) =>
            {
                var settings = auth.Value;
                var issuer = settings.Issuer.TrimEnd('/') + "/";
                jwt.MapInboundClaims = false;
                // Nothing reads the token back from the authentication result (the proxy forwards the request's own
                // header), which lives as long as its request: a realtime connection's upgrade request lives as long as
                // the connection, and need not keep the token's entries in it.
                jwt.SaveToken = false;
                jwt.RequireHttpsMetadata = settings.RequireHttpsMetadata;
                jwt.MetadataAddress = (settings.MetadataAddress ?? issuer).TrimEnd('/') + "/.well-known/openid-configuration";
                jwt.Audience = settings.Audience;
                jwt.TokenValidationParameters.ValidIssuers = [issuer, issuer.TrimEnd('/')];
                jwt.TokenValidationParameters.NameClaimType = "name";
                jwt.TokenValidationParameters.RoleClaimType = "role";
                jwt.TokenValidationParameters.ClockSkew = TimeSpan.FromSeconds(30);
                jwt.Events = new JwtBearerEvents
                {
                    OnMessageReceived = async context =>
                    {
                        // Browsers cannot set headers on a WebSocket upgrade; SignalR sends the token in the query.
                        if (IsRealtime(context.HttpContext.Request))
                        {
                            var token = context.Request.Query["access_token"];
                            if (!string.IsNullOrEmpty(token))
                                context.Token = token;
                            return;
                        }
                        // A token that validated lately is not checked again (its revocation is).
                        var validated = context.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>();
                        if (!validated.Enabled || BearerToken(context.Request) is not { } bearer
                            || await validated.FindAsync(bearer, context.Options, context.HttpContext.RequestAborted) is not { } identity)
                            return;
                        var principal = new ClaimsPrincipal(identity);
                        if (context.HttpContext.RequestServices.GetRequiredService<TokenRevocations>().IsRevoked(principal))
                        {
                            context.Fail(RevokedMessage);
                            return;
                        }
                        context.Principal = principal;
                        context.Success();
                    },
                    // Signed and unexpired is not enough: the user may have signed out everywhere or been disabled since.
                    OnTokenValidated = async context =>
                    {
                        if (context.Principal is not { Identity: ClaimsIdentity identity } principal)
                            return;
                        if (context.HttpContext.RequestServices.GetRequiredService<TokenRevocations>().IsRevoked(principal))
                        {
                            context.Fail(RevokedMessage);
                            return;
                        }
                        await context.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>().PassedAsync(
                            context.SecurityToken, identity, context.Options, keep: !IsRealtime(context.HttpContext.Request), context.HttpContext.RequestAborted);
                    },
                };
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, policy => policy.RequireAuthenticatedUser().RequireRole("admin"));
        return builder;
    }

    private const string RevokedMessage = "The token was revoked: its user signed out everywhere or was disabled.";

    /// <summary>A realtime connection's request (its token comes in the query, and is validated once per connection).</summary>
    private static bool IsRealtime(HttpRequest request) => request.Path.StartsWithSegments("/hubs");

    /// <summary>The token of an <c>Authorization: Bearer</c> header, as the JWT bearer handler reads it.</summary>
    private static string? BearerToken(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return null;
        var token = authorization["Bearer ".Length..].Trim();
        return token.Length == 0 ? null : token;
    }

    /// <summary>The role Identity gives client-credentials tokens of services (never a user's).</summary>
    public const string ServiceRole = "service";

    /// <summary>
    /// Only another service may pass: a client-credentials token with the <c>service</c> role and
    /// <paramref name="scope"/> among its scopes. Users' clients may not ask for service scopes, so a user's token gets 403.
    /// </summary>
    public static AuthorizationPolicyBuilder RequireService(this AuthorizationPolicyBuilder policy, string scope) =>
        policy.RequireAuthenticatedUser()
            .RequireRole(ServiceRole)
            .RequireAssertion(context => context.User.FindAll("scope").SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Contains(scope));
}
