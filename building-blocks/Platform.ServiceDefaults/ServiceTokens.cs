using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Client;

namespace Platform.ServiceDefaults;

/// <summary>
/// This service's own identity for calling other services: a confidential client registered at Identity
/// (<c>Identity:Clients:Services:&lt;ClientId&gt;:Secret</c> there), bound from the <c>ServiceClient</c> section.
/// </summary>
public sealed class ServiceClientOptions
{
    public const string Section = "ServiceClient";

    /// <summary>The client id Identity knows this service by (e.g. <c>media</c>).</summary>
    [Required, RegularExpression("^[a-z][a-z0-9-]*$")]
    public string ClientId { get; set; } = "";

    /// <summary>The client secret; generated per machine by <c>./platform run</c>, a Kubernetes secret in a cluster.</summary>
    [Required, MinLength(16)]
    public string ClientSecret { get; set; } = "";

    /// <summary>A token is renewed this long before it expires (or halfway through a shorter lifetime).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RenewBefore { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Client-credentials access tokens for this service, from Identity's token endpoint (found through discovery at
/// <c>Auth:MetadataAddress</c>) by OpenIddict's client. One token is cached and shared until shortly before it expires;
/// concurrent callers wait for one request. <see cref="ServiceTokenHandler"/> puts it on outgoing requests.
/// </summary>
public sealed class ServiceTokens(OpenIddictClientService client, IOptions<ServiceClientOptions> options, TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, (string Token, DateTimeOffset RenewAt)> _cached = [];

    /// <summary>A valid access token carrying <paramref name="scope"/>.</summary>
    public async Task<string> GetAsync(string scope, CancellationToken cancellationToken)
    {
        lock (_cached)
            if (_cached.TryGetValue(scope, out var cached) && time.GetUtcNow() < cached.RenewAt)
                return cached.Token;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            lock (_cached)
                if (_cached.TryGetValue(scope, out var cached) && time.GetUtcNow() < cached.RenewAt)
                    return cached.Token;
            var now = time.GetUtcNow();
            var result = await client.AuthenticateWithClientCredentialsAsync(new() { Scopes = [scope], CancellationToken = cancellationToken });
            var lifetime = (result.AccessTokenExpirationDate ?? now.AddMinutes(5)) - now;
            var renewAt = now + lifetime - TimeSpan.FromTicks(Math.Min(options.Value.RenewBefore.Ticks, lifetime.Ticks / 2));
            lock (_cached)
                _cached[scope] = (result.AccessToken, renewAt);
            return result.AccessToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets a token the callee refused (Identity's keys rotated, the client's secret changed), so the next call gets a new one.</summary>
    public void Forget(string scope, string token)
    {
        lock (_cached)
            if (_cached.TryGetValue(scope, out var cached) && cached.Token == token)
                _cached.Remove(scope);
    }
}

/// <summary>Puts this service's token for one scope on every request of an HttpClient; on a 401 it gets a fresh token and tries once more.</summary>
public sealed class ServiceTokenHandler(ServiceTokens tokens, string scope) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await tokens.GetAsync(scope, cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized || request.Content is not null)
            return response;
        response.Dispose();
        tokens.Forget(scope, token);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetAsync(scope, cancellationToken));
        return await base.SendAsync(request, cancellationToken);
    }
}

public static class ServiceTokenExtensions
{
    /// <summary>
    /// Registers this service as a client of Identity (client credentials) from <c>ServiceClient:ClientId</c> and
    /// <c>ServiceClient:ClientSecret</c>, with Identity found at <c>Auth:MetadataAddress</c> (needs
    /// <see cref="Authentication.AddPlatformAuthentication"/>). Idempotent.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformServiceClient(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(s => s.ServiceType == typeof(ServiceTokens)))
            return builder;
        builder.Services.AddOptions<ServiceClientOptions>().BindConfiguration(ServiceClientOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOpenIddict().AddClient(client =>
        {
            client.AllowClientCredentialsFlow();
            // Nothing to remember between requests: tokens are cached in memory by ServiceTokens.
            client.DisableTokenStorage();
            client.UseSystemNetHttp();
        });
        // Read when the host starts, so settings given by tests and orchestrators count.
        builder.Services.AddOptions<OpenIddictClientOptions>().Configure<IOptions<AuthOptions>, IOptions<ServiceClientOptions>>((openIddict, auth, service) =>
        {
            var issuer = new Uri(auth.Value.Issuer.TrimEnd('/') + "/");
            openIddict.Registrations.Add(new OpenIddictClientRegistration
            {
                Issuer = issuer,
                // Discovery from Identity's internal address; its token endpoint is then internal too.
                ConfigurationEndpoint = new Uri((auth.Value.MetadataAddress ?? issuer.ToString()).TrimEnd('/') + "/.well-known/openid-configuration"),
                ClientId = service.Value.ClientId,
                ClientSecret = service.Value.ClientSecret,
            });
        });
        builder.Services.AddSingleton<ServiceTokens>();
        return builder;
    }

    /// <summary>Sends this service's client-credentials token for <paramref name="scope"/> with every request of the client.</summary>
    public static IHttpClientBuilder AddServiceToken(this IHttpClientBuilder client, string scope) =>
        client.AddHttpMessageHandler(services => new ServiceTokenHandler(services.GetRequiredService<ServiceTokens>(), scope));
}
