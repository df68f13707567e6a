using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.BuildingBlocks.Tests;

/// <summary>
/// A token that validated is answered from memory when it comes again, but never past its expiry, never for a revoked
/// user, never after the signing keys were refreshed, and never for a realtime connection (a host with the service
/// defaults' authentication, its tokens from a real OIDC discovery and JWKS on loopback).
/// </summary>
public sealed class ValidatedTokensTests : IAsyncLifetime
{
    private TestTokenIssuer _issuer = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private Outcomes _outcomes = null!;

    public async Task InitializeAsync()
    {
        _issuer = await TestTokenIssuer.StartAsync();
        _app = AuthenticatedHost.CreateBuilder(_issuer).Build();
        _app.MapGet("/me", (HttpContext context) => new { name = context.User.Identity?.Name, admin = context.User.IsInRole("admin") })
            .RequireAuthorization();
        _app.MapGet("/hubs/me", (HttpContext context) => context.User.Identity?.Name).RequireAuthorization();
        await _app.StartAsync();
        _client = _app.GetTestClient();
        _outcomes = new Outcomes(_app.Services.GetRequiredService<IMeterFactory>());
    }

    public async Task DisposeAsync()
    {
        _outcomes.Dispose();
        await _app.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task ATokenThatComesAgain_IsAnsweredFromMemory_WithTheSameUserAndRoles()
    {
        var token = _issuer.CreateToken(Guid.CreateVersion7(), "Ada Lovelace", roles: ["admin"]);

        var first = await _client.SendAsync(Get("/me", token));
        var second = await _client.SendAsync(Get("/me", token));
        var third = await _client.SendAsync(Get("/me", token));

        const string expected = "{\"name\":\"Ada Lovelace\",\"admin\":true}";
        Assert.Equal(expected, await first.Content.ReadAsStringAsync());
        Assert.Equal(expected, await second.Content.ReadAsStringAsync());
        Assert.Equal(expected, await third.Content.ReadAsStringAsync());
        Assert.Equal((Validated: 1, Cached: 2), _outcomes.Counts);
    }

    [Fact]
    public async Task ARevokedUser_IsRefused_ThoughItsTokenIsInMemory()
    {
        var user = Guid.CreateVersion7();
        var token = _issuer.CreateToken(user, "Mallory");
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Get("/me", token))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Get("/me", token))).StatusCode);
        Assert.Equal(1, _outcomes.Counts.Cached);

        _app.Services.GetRequiredService<TokenRevocations>().RevokeAll(user);

        var response = await _client.SendAsync(Get("/me", token));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AToken_IsNotAnsweredFromMemory_PastItsExpiry()
    {
        // Expired 28 s ago: within the 30 s of clock skew the full check allows, for two more seconds.
        var token = _issuer.CreateToken(Guid.CreateVersion7(), "Brief", lifetime: TimeSpan.FromSeconds(-28));
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Get("/me", token))).StatusCode);

        await Task.Delay(TimeSpan.FromSeconds(2.5));

        Assert.Equal(HttpStatusCode.Unauthorized, (await _client.SendAsync(Get("/me", token))).StatusCode);
        Assert.Equal(0, _outcomes.Counts.Cached);
    }

    [Fact]
    public async Task ARealtimeConnectionsToken_IsCheckedInFullEachTime_AndNotKept()
    {
        var token = _issuer.CreateToken(Guid.CreateVersion7(), "Socket");

        Assert.Equal("Socket", await _client.GetStringAsync($"/hubs/me?access_token={token}"));
        Assert.Equal("Socket", await _client.GetStringAsync($"/hubs/me?access_token={token}"));

        Assert.Equal((Validated: 2, Cached: 0), _outcomes.Counts);
        // Nor does the same token in a header find it kept.
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Get("/me", token))).StatusCode);
        Assert.Equal((Validated: 3, Cached: 0), _outcomes.Counts);
    }

    [Fact]
    public async Task AfterTheSigningKeysAreFetchedAgain_ATokenIsCheckedInFullAgain()
    {
        using var rsa = RSA.Create(2048);
        var signing = new RsaSecurityKey(rsa) { KeyId = "k1" };
        var options = new JwtBearerOptions { ConfigurationManager = Manager(signing) };
        options.TokenValidationParameters.ValidIssuer = "https://issuer.test/";
        options.TokenValidationParameters.ValidAudience = "api";
        options.TokenValidationParameters.ConfigurationManager = (BaseConfigurationManager)options.ConfigurationManager;
        using var meters = new TestMeterFactory();
        using var cache = new ValidatedTokens(Options.Create(new AuthOptions()), meters, TimeProvider.System);
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "https://issuer.test/",
            Audience = "api",
            Subject = new ClaimsIdentity([new Claim("sub", "u1")]),
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(signing, SecurityAlgorithms.RsaSha256),
        });
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, options.TokenValidationParameters);
        Assert.True(result.IsValid, result.Exception?.Message);

        await cache.PassedAsync(result.SecurityToken, result.ClaimsIdentity, options, keep: true, CancellationToken.None);
        var found = await cache.FindAsync(token, options, CancellationToken.None);
        Assert.Equal("u1", found?.FindFirst("sub")?.Value);
        Assert.NotSame(result.ClaimsIdentity, found);

        // The same key published again is a new configuration: what it trusts is decided by the full check, not here.
        options.ConfigurationManager = Manager(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k1" });
        Assert.Null(await cache.FindAsync(token, options, CancellationToken.None));
    }

    private static StaticConfigurationManager<OpenIdConnectConfiguration> Manager(SecurityKey key)
    {
        var configuration = new OpenIdConnectConfiguration { Issuer = "https://issuer.test/" };
        configuration.SigningKeys.Add(key);
        return new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
    }

    private static HttpRequestMessage Get(string path, string token) =>
        new(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(meter => meter.Dispose());
    }

    // The outcomes this host counted (the listener sees every host's meters in the test process).
    private sealed class Outcomes : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _validated;
        private int _cached;

        public Outcomes(IMeterFactory meters)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == ValidatedTokens.ValidationsMetric && ReferenceEquals(instrument.Meter.Scope, meters))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag is { Key: "outcome", Value: "validated" })
                        Interlocked.Add(ref _validated, (int)value);
                    else if (tag is { Key: "outcome", Value: "cached" })
                        Interlocked.Add(ref _cached, (int)value);
            });
            _listener.Start();
        }

        public (int Validated, int Cached) Counts => (Volatile.Read(ref _validated), Volatile.Read(ref _cached));

        public void Dispose() => _listener.Dispose();
    }
}
