using System.Diagnostics.Metrics;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Platform.ServiceDefaults;

/// <summary>
/// The access tokens this process has validated lately, so that a client's next request with the same token skips
/// the signature check and the parsing (about 6% of the Gateway's and Messaging's CPU per message, and a part of every
/// request's latency). A token is answered from here only if it is byte for byte one that validated, with the
/// signing keys it validated against still the ones the service trusts (the same discovery document: a refreshed one
/// that may have dropped a key sends every token through the full check again), at most
/// <see cref="AuthOptions.ValidatedTokenCacheSeconds"/> after that check and never past its expiry (with the clock
/// skew the full check allows). Revocation is checked on every request, answered from here or not
/// (<see cref="TokenRevocations"/>). Realtime connections are not kept: each validates its token once, when it connects,
/// and an entry per connection would be memory held for nothing.
/// </summary>
public sealed class ValidatedTokens : IDisposable
{
    /// <summary>Counts the tokens that passed by <c>outcome</c>: <c>cached</c> (answered from here), <c>validated</c> (checked in full).</summary>
    public const string ValidationsMetric = "platform.auth.token_validations";

    private readonly MemoryCache _entries;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private readonly Counter<long> _validations;

    private sealed record Entry(ClaimsIdentity Identity, object KeySet, DateTimeOffset Until);

    public ValidatedTokens(IOptions<AuthOptions> options, IMeterFactory meters, TimeProvider time)
    {
        var settings = options.Value;
        _time = time;
        _lifetime = TimeSpan.FromSeconds(settings.ValidatedTokenCacheSeconds);
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = settings.ValidatedTokenCacheSize });
        _validations = meters.Create(Telemetry.SourcePrefix + "Auth").CreateCounter<long>(ValidationsMetric, "{validation}",
            "Access tokens that passed, by outcome: cached (answered from memory) or validated (checked in full).");
    }

    public bool Enabled => _lifetime > TimeSpan.Zero;

    /// <summary>
    /// The identity of <paramref name="token"/> if it validated lately against the key set <paramref name="options"/>'
    /// configuration manager holds now; a copy of its own for this request.
    /// </summary>
    public async ValueTask<ClaimsIdentity?> FindAsync(string token, JwtBearerOptions options, CancellationToken cancellationToken)
    {
        if (!Enabled || !_entries.TryGetValue(token, out Entry? entry) || entry is null)
            return null;
        if (_time.GetUtcNow() >= entry.Until || !ReferenceEquals(await CurrentKeySetAsync(options, cancellationToken), entry.KeySet))
        {
            _entries.Remove(token);
            return null;
        }
        _validations.Add(1, new KeyValuePair<string, object?>("outcome", "cached"));
        return entry.Identity.Clone();
    }

    /// <summary>
    /// A token has just passed the full check (its signature against <paramref name="validated"/>'s key): counted, and
    /// kept for its next requests unless <paramref name="keep"/> is false.
    /// </summary>
    public async ValueTask PassedAsync(SecurityToken validated, ClaimsIdentity identity, JwtBearerOptions options, bool keep, CancellationToken cancellationToken)
    {
        _validations.Add(1, new KeyValuePair<string, object?>("outcome", "validated"));
        if (!keep || !Enabled || validated.SigningKey is not { } key || Encoded(validated) is not { } token)
            return;
        // Bound to the key set the check used: the configuration that holds that very key object. A configuration
        // refreshed meanwhile holds new objects, so the token is simply not kept.
        var keySet = await CurrentKeySetAsync(options, cancellationToken);
        if (keySet is not Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfiguration configuration
            || !configuration.SigningKeys.Any(trusted => ReferenceEquals(trusted, key)))
            return;
        var now = _time.GetUtcNow();
        var expires = new DateTimeOffset(DateTime.SpecifyKind(validated.ValidTo, DateTimeKind.Utc)) + options.TokenValidationParameters.ClockSkew;
        var until = now + _lifetime < expires ? now + _lifetime : expires;
        if (validated.ValidTo == DateTime.MinValue || until <= now)
            return;
        _entries.Set(token, new Entry(identity.Clone(), keySet, until), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpiration = until });
    }

    private static string? Encoded(SecurityToken token) => token switch
    {
        Microsoft.IdentityModel.JsonWebTokens.JsonWebToken jwt => jwt.EncodedToken,
        _ => null,
    };

    private static async ValueTask<object?> CurrentKeySetAsync(JwtBearerOptions options, CancellationToken cancellationToken) =>
        options.ConfigurationManager is { } manager ? await manager.GetConfigurationAsync(cancellationToken) : null;

    public void Dispose() => _entries.Dispose();
}
