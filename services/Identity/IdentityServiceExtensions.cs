using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using OpenIddict.Validation.AspNetCore;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Features;
using Platform.Identity.Hosting;
using Platform.ServiceDefaults;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity;

public static class IdentityServiceExtensions
{
    /// <summary>
    /// Identity's store (EF Core on its own schema), accounts (ASP.NET Core Identity), the OpenIddict server, token
    /// validation for its own API, the outbox, and the hosted services that migrate, seed and relay.
    /// </summary>
    public static IHostApplicationBuilder AddIdentityService(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPlatformPostgres();
        services.AddOptions<IdentityServiceOptions>()
            .BindConfiguration(IdentityServiceOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IdentityServiceOptions>, DescribedValidation>();
        // Identity issues the tokens but reads the public issuer the same way every service does.
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        services.AddSingleton<OutboxCommitInterceptor>();
        services.AddDbContext<IdentityDb>((provider, options) => options.UseNpgsql(
            provider.GetRequiredService<NpgsqlDataSource>(),
            npgsql => npgsql.MigrationsHistoryTable("__EFMigrationsHistory", IdentityDb.Schema))
            .AddInterceptors(provider.GetRequiredService<OutboxCommitInterceptor>()));
        services.AddDataProtection().SetApplicationName("platform-identity").PersistKeysToDbContext<IdentityDb>();

        AddAccounts(services);
        AddOpenIddict(services);

        services.AddSingleton<DatabaseReadiness>();
        services.AddHealthChecks().AddCheck<DatabaseReadiness>("identity-database", tags: [HealthEndpoints.ReadyTag]);
        services.AddHostedService<DatabaseInitializer>();
        services.AddPlatformOutbox<IdentityOutboxStore>();
        services.AddScoped<ClientSeeder>();
        services.AddScoped<DemoUserSeeder>();
        services.AddScoped<Registration>();
        services.AddScoped<SignInLookup>();
        services.AddSingleton<PasswordWork>();
        services.AddScoped<SignInThrottle>();
        services.AddSingleton<DataExportQueue>();
        services.AddHostedService<DataExportBuilder>();
        services.AddHttpClient(DataExportBuilder.HttpClientName, http => http.Timeout = TimeSpan.FromMinutes(2));

        services.AddAntiforgery(options => options.Cookie.Name = "platform.antiforgery");
        services.AddRateLimiter(ConfigureRateLimits);
        return builder;
    }

    public static WebApplication MapIdentityEndpoints(this WebApplication app)
    {
        app.Use(LimitRequestBodySize);
        app.UseRateLimiter();

        var api = app.MapGroup("/api/v1");
        api.MapGroup("/users").RequireAuthorization().MapRegister().MapMe().MapVerification().MapTwoFactor().MapDeleteAccount().MapDataExports().MapSessions().MapBlocks().MapPrivacy().MapUsers().MapAdminUsers();
        api.MapGroup("/contacts").RequireAuthorization().MapImportContacts().MapContacts();
        api.MapGroup("/invites").RequireAuthorization().MapCreateInvite();
        api.MapGroup("/bots").RequireAuthorization(Authentication.AdminPolicy).MapBots();
        api.MapPasswordReset();
        app.MapRelations();
        app.MapTokenRevocationList();

        app.MapAuthorizeEndpoint();
        app.MapTokenEndpoint();
        app.MapUserInfoEndpoint();
        app.MapEndSessionEndpoint();
        app.MapLoginPage();
        return app;
    }

    private static void AddAccounts(IServiceCollection services)
    {
        services.AddIdentityCore<User>()
            .AddRoles<IdentityRole<Guid>>()
            .AddEntityFrameworkStores<IdentityDb>()
            .AddSignInManager()
            .AddPasswordValidator<CommonPasswordValidator>()
            // TOTP codes of an authenticator app for two-factor sign-in (Features/TwoFactor.cs).
            .AddTokenProvider<AuthenticatorTokenProvider<User>>(TokenOptions.DefaultAuthenticatorProvider);
        services.AddOptions<IdentityOptions>().Configure<IOptions<IdentityServiceOptions>>((identity, settings) =>
        {
            identity.User.AllowedUserNameCharacters = Usernames.AllowedCharacters;
            // Emails are optional (phone sign-ups); a unique index enforces them instead.
            identity.User.RequireUniqueEmail = false;
            identity.Password.RequiredLength = settings.Value.PasswordMinLength;
            identity.Password.RequiredUniqueChars = 4;
            identity.Password.RequireDigit = false;
            identity.Password.RequireLowercase = false;
            identity.Password.RequireUppercase = false;
            identity.Password.RequireNonAlphanumeric = false;
            // No lockout: anyone could lock anyone out. Failed sign-ins are throttled instead (SignInThrottle).
            identity.Lockout.AllowedForNewUsers = false;
            identity.ClaimsIdentity.UserIdClaimType = Claims.Subject;
            identity.ClaimsIdentity.UserNameClaimType = Claims.Name;
            identity.ClaimsIdentity.RoleClaimType = Claims.Role;
        });
        services.AddScoped<IPasswordHasher<User>, ExactCostPasswordHasher>();
        services.AddOptions<PasswordHasherOptions>().Configure<IOptions<IdentityServiceOptions>>((hasher, settings) =>
        {
            hasher.CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3;
            hasher.IterationCount = settings.Value.PasswordHashIterations;
        });

        // The API takes bearer tokens (OpenIddict validation against this server's own keys); the sign-in cookie
        // belongs to the login page and the authorize endpoint only, which ask for it by name.
        services.AddAuthentication(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme)
            .AddCookie(IdentityConstants.ApplicationScheme, cookie =>
            {
                cookie.LoginPath = LoginPage.Path;
                cookie.Cookie.Name = "platform.identity";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Lax;
                cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
                cookie.SlidingExpiration = true;
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(Authentication.AdminPolicy, policy => policy.RequireAuthenticatedUser().RequireRole(DatabaseInitializer.AdminRole));
    }

    private static void AddOpenIddict(IServiceCollection services)
    {
        services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<IdentityDb>())
            .AddServer(server =>
            {
                server.SetAuthorizationEndpointUris("connect/authorize")
                    .SetTokenEndpointUris("connect/token")
                    .SetUserInfoEndpointUris("connect/userinfo")
                    .SetRevocationEndpointUris("connect/revoke")
                    .SetEndSessionEndpointUris("connect/logout");
                server.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                server.AllowPasswordFlow();
                server.AllowRefreshTokenFlow();
                server.AllowClientCredentialsFlow();
                server.RegisterScopes(Scopes.Email, Scopes.Phone, Scopes.Profile, Scopes.Roles, Scopes.OfflineAccess, ClientSeeder.ApiScope,
                    Platform.Contracts.Messaging.ConversationLogFeed.Scope);
                // Every service validates access tokens offline from the JWKS, so they are signed, not encrypted.
                server.DisableAccessTokenEncryption();
                server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough();
            })
            .AddValidation(validation =>
            {
                validation.UseLocalServer();
                // Identity's own API checks each access token's entry and its session (authorization) in the database:
                // a token revoked by "sign out everywhere", by ending its session or by disabling the user is refused at
                // once. (Other services learn of it from UserSessionsRevoked / UserDisabled: TokenRevocations.)
                validation.EnableTokenEntryValidation();
                validation.EnableAuthorizationEntryValidation();
                validation.AddAudiences(TokenPrincipals.Audience);
                // Bearer header only: a token in a form or a query string ends up in logs, and reading every posted
                // form to look for one turned a malformed login form into a 500.
                validation.UseAspNetCore()
                    .DisableAccessTokenExtractionFromBodyForm()
                    .DisableAccessTokenExtractionFromQueryString();
            });

        // Read when the host starts, not when services are registered, so settings added by tests and orchestrators count.
        services.AddOptions<OpenIddictServerOptions>()
            .Configure<IOptions<IdentityServiceOptions>, IOptions<AuthOptions>, IHostEnvironment>((server, identity, auth, environment) =>
            {
                server.Issuer = new Uri(auth.Value.Issuer.TrimEnd('/') + "/");
                server.SigningCredentials.Add(ServerKeys.Signing(identity.Value.Keys, environment));
                server.EncryptionCredentials.Add(ServerKeys.Encryption(identity.Value.Keys, environment));
                server.AccessTokenLifetime = identity.Value.Tokens.AccessTokenLifetime;
                server.RefreshTokenLifetime = identity.Value.Tokens.RefreshTokenLifetime;
                server.RefreshTokenReuseLeeway = identity.Value.Tokens.RefreshTokenReuseLeeway;
                // PKCE with S256 only: "plain" protects nothing once the authorization request leaks.
                server.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain);
            });
        services.AddOptions<OpenIddictServerAspNetCoreOptions>().Configure<IOptions<IdentityServiceOptions>>((aspNetCore, identity) =>
            aspNetCore.DisableTransportSecurityRequirement = !identity.Value.RequireHttps);
    }

    private static void ConfigureRateLimits(RateLimiterOptions limits)
    {
        limits.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        limits.OnRejected = async (context, cancellationToken) =>
        {
            var http = context.HttpContext;
            if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                RetryAfter.Set(http.Response, retryAfter);
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails =
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Too many requests",
                    Detail = "Contact imports and data exports are limited per user. Try again later.",
                    Type = "https://tools.ietf.org/html/rfc6585#section-4",
                },
            });
        };
        limits.AddPolicy(DataExports.RateLimitPolicy, http =>
        {
            var settings = http.RequestServices.GetRequiredService<IOptions<IdentityServiceOptions>>().Value.Export;
            var partition = http.User.FindFirstValue(Claims.Subject) ?? "ip:" + http.Connection.RemoteIpAddress;
            return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = settings.PermitLimit,
                Window = settings.Window,
                QueueLimit = 0,
            });
        });
        limits.AddPolicy(ImportContacts.RateLimitPolicy, http =>
        {
            var settings = http.RequestServices.GetRequiredService<IOptions<IdentityServiceOptions>>().Value.ContactImport;
            var partition = http.User.FindFirstValue(Claims.Subject) ?? "ip:" + http.Connection.RemoteIpAddress;
            return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = settings.PermitLimit,
                Window = settings.Window,
                QueueLimit = 0,
            });
        });
    }

    /// <summary>Refuses a declared oversized body at once with 413 problem details; Kestrel enforces the same limit on streamed bodies.</summary>
    private static async Task LimitRequestBodySize(HttpContext context, Func<Task> next)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<IdentityServiceOptions>>().Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "Request body too large",
                    Detail = $"Request bodies are limited to {limit} bytes.",
                },
            });
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            feature.MaxRequestBodySize = limit;
        await next();
    }

    private static IEnumerable<string> NestedErrors(IdentityServiceOptions options)
    {
        foreach (var (name, value) in new (string, object)[] { ("Tokens", options.Tokens), ("ContactImport", options.ContactImport), ("SignInThrottle", options.SignInThrottle) })
        {
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
                foreach (var result in results)
                    yield return $"Identity:{name}:{string.Join(",", result.MemberNames)}: {result.ErrorMessage}";
        }
    }

    /// <summary>Names every broken setting in the start-up failure, not just "invalid".</summary>
    private sealed class DescribedValidation : IValidateOptions<IdentityServiceOptions>
    {
        public ValidateOptionsResult Validate(string? name, IdentityServiceOptions options)
        {
            var errors = NestedErrors(options).Concat(options.Validate()).ToList();
            return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
        }
    }
}
