using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Notifications.Domain;
using Platform.Notifications.Push;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Features;

public sealed record SubscriptionKeys(string? P256dh, string? Auth);

/// <summary>The browser's <c>PushSubscription</c> JSON (<c>endpoint</c>, <c>keys</c>), or a native device: <c>platform</c> apns or fcm with its <c>token</c>.</summary>
public sealed record SubscribeRequest(string? Endpoint, SubscriptionKeys? Keys, double? ExpirationTime, string? Platform, string? Token);

public sealed record SubscriptionDto(Guid Id, string Platform, string Endpoint, DateTimeOffset CreatedAt)
{
    public static SubscriptionDto From(PushSubscriptionDoc s) => new(s.Id, s.Platform, s.Platform == "web" ? s.Endpoint : "…" + s.Endpoint[^Math.Min(6, s.Endpoint.Length)..], s.CreatedAt);
}

public sealed record VapidPublicKey(string PublicKey);

/// <summary>
/// <c>POST /api/v1/push-subscriptions</c> (register this device; the same endpoint again updates it),
/// <c>GET</c> (mine), <c>DELETE /api/v1/push-subscriptions/{id}</c> or <c>?endpoint=</c>, and
/// <c>GET /api/v1/push-subscriptions/vapid-public-key</c> (the browser's <c>applicationServerKey</c>).
/// </summary>
public static class PushSubscriptions
{
    public const int MaxPerUser = 50;

    public static RouteGroupBuilder MapPushSubscriptions(this RouteGroupBuilder subscriptions)
    {
        subscriptions.MapPost("/", SubscribeAsync);
        subscriptions.MapGet("/", ListAsync);
        subscriptions.MapDelete("/", DeleteByEndpointAsync);
        subscriptions.MapDelete("/{id:guid}", DeleteAsync);
        subscriptions.MapGet("/vapid-public-key", async (VapidKeyStore keys, CancellationToken cancellationToken) =>
            TypedResults.Ok(new VapidPublicKey((await keys.GetAsync(cancellationToken)).Public)));
        return subscriptions;
    }

    private static async Task<Results<Created<SubscriptionDto>, Ok<SubscriptionDto>, ProblemHttpResult>> SubscribeAsync(
        SubscribeRequest request, ClaimsPrincipal principal, IDocumentSession session, IOptions<NotificationsOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var me = principal.UserId();
        var platform = request.Platform ?? "web";
        string endpoint;
        if (platform == "web")
        {
            if (EndpointRules.CheckEndpoint(request.Endpoint, options.Value.Push.AllowedEndpointPrefixes) is { } endpointProblem)
                return Http.Invalid(endpointProblem);
            if (EndpointRules.CheckKeys(request.Keys?.P256dh, request.Keys?.Auth) is { } keyProblem)
                return Http.Invalid(keyProblem);
            endpoint = request.Endpoint!;
        }
        else if (platform is "apns" or "fcm")
        {
            if (string.IsNullOrWhiteSpace(request.Token) || request.Token.Length > 4096 || request.Token.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
                return Http.Invalid("token is the device's push token (at most 4096 characters, no spaces).");
            endpoint = request.Token;
        }
        else
            return Http.Invalid("platform is web (the default), apns or fcm.");

        var existing = await session.Query<PushSubscriptionDoc>().Where(s => s.Endpoint == endpoint).FirstOrDefaultAsync(cancellationToken);
        // Another account's device is not moved on the endpoint alone (a URL or token someone may have seen): a browser
        // proves it holds that subscription with its auth secret, which only it and we know. A native token stays with
        // its account until that account deletes it (the app does on sign-out).
        if (existing is not null && existing.UserId != me && !SameBrowser(existing, platform, request.Keys?.Auth))
            return TypedResults.Problem("This push endpoint is registered to another account: sign out there first (which deletes it).",
                statusCode: StatusCodes.Status409Conflict, title: "Registered to another account");
        if (existing is null && await session.Query<PushSubscriptionDoc>().CountAsync(s => s.UserId == me, cancellationToken) >= MaxPerUser)
            return TypedResults.Problem($"At most {MaxPerUser} push subscriptions per user; delete old ones first.", statusCode: StatusCodes.Status409Conflict, title: "Too many subscriptions");
        // The same endpoint again (a refreshed key, or the same browser now signed in as me) replaces the old registration.
        var subscription = existing ?? new PushSubscriptionDoc { Id = Guid.CreateVersion7(time.GetUtcNow()), CreatedAt = time.GetUtcNow() };
        subscription.UserId = me;
        subscription.Platform = platform;
        subscription.Endpoint = endpoint;
        subscription.P256dh = request.Keys?.P256dh;
        subscription.Auth = request.Keys?.Auth;
        session.Store(subscription);
        await session.SaveChangesAsync(cancellationToken);
        var dto = SubscriptionDto.From(subscription);
        return existing is null ? TypedResults.Created($"/api/v1/push-subscriptions/{subscription.Id}", dto) : TypedResults.Ok(dto);
    }

    private static bool SameBrowser(PushSubscriptionDoc existing, string platform, string? auth) =>
        platform == "web" && existing.Platform == "web" && existing.Auth is { } stored && auth is not null
        && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(stored), System.Text.Encoding.ASCII.GetBytes(auth));

    private static async Task<Ok<Page<SubscriptionDto>>> ListAsync(ClaimsPrincipal principal, IQuerySession session, CancellationToken cancellationToken)
    {
        var me = principal.UserId();
        var mine = await session.Query<PushSubscriptionDoc>().Where(s => s.UserId == me).OrderBy(s => s.CreatedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<SubscriptionDto>(mine.Select(SubscriptionDto.From).ToList(), null));
    }

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DeleteByEndpointAsync(
        string? endpoint, ClaimsPrincipal principal, IDocumentSession session, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(endpoint))
            return Http.Invalid("Give the subscription's endpoint (?endpoint=) or delete /push-subscriptions/{id}.");
        var me = principal.UserId();
        var found = await session.Query<PushSubscriptionDoc>().Where(s => s.Endpoint == endpoint && s.UserId == me).FirstOrDefaultAsync(cancellationToken);
        if (found is null)
            return TypedResults.NotFound();
        session.Delete(found);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(Guid id, ClaimsPrincipal principal, IDocumentSession session, CancellationToken cancellationToken)
    {
        var found = await session.LoadAsync<PushSubscriptionDoc>(id, cancellationToken);
        if (found is null || found.UserId != principal.UserId())
            return TypedResults.NotFound();
        session.Delete(found);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
