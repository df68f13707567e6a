using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Claims;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Identity;

namespace Platform.ServiceDefaults;

/// <summary>
/// Which users' access tokens this process refuses although they are validly signed and unexpired: a user who signed
/// out everywhere (tokens issued before then) or who was disabled (every token). Fed by every instance's own copy of
/// <see cref="UserSessionsRevoked"/>, <see cref="UserDisabled"/> and <see cref="UserDeleted"/>; checked on every token validation.
/// </summary>
public sealed class TokenRevocations(TimeProvider? clock = null)
{
    private readonly TimeProvider _time = clock ?? TimeProvider.System;

    /// <summary>
    /// When Identity issued the access token, in Unix milliseconds: <c>iat</c> has whole seconds only, too coarse to
    /// tell a token issued just before a sign-out everywhere from one issued just after.
    /// </summary>
    public const string IssuedAtMillisecondsClaim = "iat_ms";

    /// <summary>Longer than any access token lives (Identity allows at most a day): older entries can go.</summary>
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1) + TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _notBefore = new();
    private long _nextPrune;

    /// <summary>Refuses the user's tokens issued before <paramref name="notBefore"/>.</summary>
    public void Revoke(Guid userId, DateTimeOffset notBefore)
    {
        _notBefore.AddOrUpdate(userId, notBefore, (_, earlier) => earlier > notBefore ? earlier : notBefore);
        Prune();
    }

    /// <summary>Refuses every token of the user, for good.</summary>
    public void RevokeAll(Guid userId) => _notBefore[userId] = DateTimeOffset.MaxValue;

    public bool IsRevoked(Guid userId, DateTimeOffset issuedAt) =>
        _notBefore.TryGetValue(userId, out var notBefore) && issuedAt < notBefore;

    /// <summary>A user's access token (a <c>sub</c> that is a user id) that was revoked; service tokens never are.</summary>
    public bool IsRevoked(ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirst("sub")?.Value, out var userId) && _notBefore.ContainsKey(userId)
        && IssuedAt(principal) is { } issuedAt && IsRevoked(userId, issuedAt);

    /// <summary>When the token was issued: <see cref="IssuedAtMillisecondsClaim"/>, or <c>iat</c> for tokens without it.</summary>
    public static DateTimeOffset? IssuedAt(ClaimsPrincipal principal)
    {
        if (long.TryParse(principal.FindFirst(IssuedAtMillisecondsClaim)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        if (long.TryParse(principal.FindFirst("iat")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        return null;
    }

    private void Prune()
    {
        var now = _time.GetUtcNow();
        var next = Interlocked.Read(ref _nextPrune);
        if (now.UtcTicks < next || Interlocked.CompareExchange(ref _nextPrune, now.UtcTicks + TimeSpan.TicksPerHour, next) != next)
            return;
        foreach (var (userId, notBefore) in _notBefore)
            if (notBefore != DateTimeOffset.MaxValue && notBefore < now - Retention)
                _notBefore.TryRemove(new KeyValuePair<Guid, DateTimeOffset>(userId, notBefore));
    }
}

/// <summary>Something a host does when a user's sessions end (the Gateway closes the user's connections).</summary>
public interface IUserSessionsEndedListener
{
    void SessionsEnded(Guid userId, string reason);
}

/// <summary>Each instance's own queue (temporary, <c>&lt;service&gt;-token-revocation-&lt;instance&gt;</c>): every replica must hear of it.</summary>
public sealed class TokenRevocationConsumer(
    TokenRevocations revocations,
    IEnumerable<IUserSessionsEndedListener> listeners,
    ILogger<TokenRevocationConsumer> logger) : IConsumer<UserSessionsRevoked>, IConsumer<UserDisabled>, IConsumer<UserDeleted>
{
    public Task Consume(ConsumeContext<UserSessionsRevoked> context)
    {
        revocations.Revoke(context.Message.UserId, context.Message.RevokedAt);
        Ended(context.Message.UserId, "The user signed out everywhere.");
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<UserDisabled> context)
    {
        revocations.RevokeAll(context.Message.UserId);
        Ended(context.Message.UserId, "The account was disabled.");
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<UserDeleted> context)
    {
        revocations.RevokeAll(context.Message.UserId);
        Ended(context.Message.UserId, "The account was deleted.");
        return Task.CompletedTask;
    }

    private void Ended(Guid userId, string reason)
    {
        logger.LogInformation("Refusing the earlier tokens of user {UserId}: {Reason}", userId, reason);
        foreach (var listener in listeners)
            listener.SessionsEnded(userId, reason);
    }
}

/// <summary>
/// What an instance that starts late missed: at start it asks Identity for the revocations of the last day (sign-outs
/// everywhere, disabled and deleted users: <c>GET /internal/v1/token-revocations</c> at <c>Auth:MetadataAddress</c>), so
/// it refuses those tokens too, not only the ones revoked while it runs. Tried again every few seconds until Identity
/// answers (for as long as an access token can live: after that nothing it missed still matters); the bus feeds it
/// meanwhile.
/// </summary>
public sealed class TokenRevocationLoader(
    TokenRevocations revocations,
    IHttpClientFactory clients,
    Microsoft.Extensions.Options.IOptions<AuthOptions> auth,
    ILogger<TokenRevocationLoader> logger) : Microsoft.Extensions.Hosting.BackgroundService
{
    public const string HttpClientName = "token-revocations";

    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromDays(1);

    private sealed record Revocation(Guid UserId, DateTimeOffset? NotBefore, bool All);

    private sealed record Answer(List<Revocation> Items);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var address = new Uri((auth.Value.MetadataAddress ?? auth.Value.Issuer).TrimEnd('/') + "/internal/v1/token-revocations");
        var started = DateTimeOffset.UtcNow;
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                var answer = await clients.CreateClient(HttpClientName).GetFromJsonAsync<Answer>(address, stoppingToken);
                foreach (var revocation in answer?.Items ?? [])
                {
                    if (revocation.All)
                        revocations.RevokeAll(revocation.UserId);
                    else if (revocation.NotBefore is { } notBefore)
                        revocations.Revoke(revocation.UserId, notBefore);
                }
                logger.LogInformation("Loaded {Count} token revocations from Identity", answer?.Items.Count ?? 0);
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested && exception is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or NotSupportedException)
            {
                if (DateTimeOffset.UtcNow - started > GiveUpAfter)
                    return;
                logger.Log(attempt == 12 ? LogLevel.Warning : LogLevel.Debug, exception,
                    "Identity did not answer the token revocations at {Address} (attempt {Attempt}); trying again", address, attempt);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
