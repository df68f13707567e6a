using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Notifications.Domain;
using Platform.Notifications.Features;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Webhooks;

/// <summary>A conversation's admin or owner registers a webhook for it; a platform admin may leave <c>conversationId</c> out (every conversation).</summary>
public sealed record CreateWebhookRequest(string? Url, string[]? Events, Guid? ConversationId);

/// <summary>The secret is shown here and on rotation only.</summary>
public sealed record WebhookCreated(Guid Id, string Secret);

public sealed record WebhookSecretRotated(Guid Id, string Secret, DateTimeOffset PreviousSecretExpiresAt);

public sealed record WebhookDto(
    Guid Id, string Url, IReadOnlyList<string> Events, Guid? ConversationId, Guid OwnerId, DateTimeOffset CreatedAt, bool Disabled,
    DateTimeOffset? DisabledAt, string? DisabledReason)
{
    public static WebhookDto From(Webhook w) => new(w.Id, w.Url, w.Events, w.ConversationId, w.OwnerId, w.CreatedAt, w.DisabledAt is not null, w.DisabledAt, w.DisabledReason);
}

/// <param name="Status">pending (queued or being retried), delivered or failed.</param>
public sealed record WebhookDeliveryDto(
    string Id, Guid EventId, string Type, Guid ConversationId, long Seq, string Status, int Attempts, int? StatusCode, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt)
{
    public static WebhookDeliveryDto From(Delivery d) => new(d.Id.ToString(CultureInfo.InvariantCulture), d.EventId, d.Type, d.ConversationId, d.Seq, d.Status, d.Attempts,
        d.LastStatusCode, d.LastError, d.CreatedAt, d.LastAttemptAt, d.NextAttemptAt, d.DeliveredAt);
}

/// <summary>
/// <c>POST /api/v1/webhooks</c>, <c>GET /api/v1/webhooks[?conversationId=]</c>, <c>DELETE /api/v1/webhooks/{id}</c>,
/// <c>POST /api/v1/webhooks/{id}/rotate-secret</c>, <c>GET /api/v1/webhooks/{id}/deliveries</c>. A webhook is managed by
/// its owner, its conversation's admins and owners, and platform admins; anyone else gets 404.
/// </summary>
public static class WebhookEndpoints
{
    public const int MaxEvents = 50;

    /// <summary>The event types a webhook may ask for: the conversation log's.</summary>
    public static readonly IReadOnlySet<string> KnownTypes = typeof(ConversationEventTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();

    public static RouteGroupBuilder MapWebhooks(this RouteGroupBuilder webhooks)
    {
        webhooks.MapPost("/", CreateAsync);
        webhooks.MapGet("/", ListAsync);
        webhooks.MapDelete("/{id:guid}", DeleteAsync);
        webhooks.MapPost("/{id:guid}/rotate-secret", RotateAsync);
        webhooks.MapGet("/{id:guid}/deliveries", DeliveriesAsync);
        return webhooks;
    }

    private static async Task<Results<Created<WebhookCreated>, ProblemHttpResult>> CreateAsync(
        CreateWebhookRequest request, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, WebhookSecrets secrets, WebhookSender sender,
        IHostResolver resolver, IOptions<WebhookOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var me = principal.UserId();
        if (WebhookUrls.Check(request.Url, sender.Policy, options.Value.AllowLoopback) is { } urlProblem)
            return Http.Invalid(urlProblem);
        if (request.Events is not { Length: > 0 and <= MaxEvents } events || events.Any(e => e is null || !KnownTypes.Contains(e)))
            return Http.Invalid($"events must list 1 to {MaxEvents} event types of the conversation log ({string.Join(", ", KnownTypes.Order())}).");

        if (request.ConversationId is { } conversationId)
        {
            if (await ManagesAsync(session, conversationId, me, cancellationToken) is { } denied)
                return denied;
            if (await store.CountForConversationAsync(conversationId, cancellationToken) >= options.Value.MaxPerConversation)
                return TypedResults.Problem($"At most {options.Value.MaxPerConversation} webhooks per conversation; delete one first.",
                    statusCode: StatusCodes.Status409Conflict, title: "Too many webhooks");
        }
        else if (!principal.IsInRole("admin"))
            return TypedResults.Problem("Only a platform admin may register a webhook for every conversation; give a conversationId.",
                statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");

        var url = new Uri(request.Url!);
        if (await WebhookUrls.CheckResolvedAsync(url, sender.Policy, resolver, cancellationToken) is { } addressProblem)
            return Http.Invalid(addressProblem);

        var secret = WebhookSecrets.Generate();
        var webhook = new Webhook(Guid.CreateVersion7(time.GetUtcNow()), me, request.ConversationId, request.Url!, events.Distinct().ToArray(),
            secrets.Protect(secret), null, null, time.GetUtcNow(), null, null);
        if (webhook.ConversationId is not null)
            await store.InsertAsync(webhook, cancellationToken);
        else if (!await store.InsertPlatformWideAsync(webhook, IssuedAt(principal), cancellationToken))
            return TypedResults.Problem("Your platform admin role was revoked after this token was issued; sign in again.",
                statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
        return TypedResults.Created($"/api/v1/webhooks/{webhook.Id}", new WebhookCreated(webhook.Id, secret));
    }

    // When the access token was issued (its iat, whole seconds); a token without one counts as the oldest.
    private static DateTimeOffset IssuedAt(ClaimsPrincipal principal) =>
        long.TryParse(principal.FindFirst("iat")?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.MinValue;

    private static async Task<Results<Ok<Page<WebhookDto>>, ProblemHttpResult>> ListAsync(
        Guid? conversationId, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, CancellationToken cancellationToken)
    {
        var me = principal.UserId();
        if (conversationId is { } id)
        {
            if (!principal.IsInRole("admin") && await ManagesAsync(session, id, me, cancellationToken) is { } denied)
                return denied;
            return TypedResults.Ok(new Page<WebhookDto>((await store.ByConversationAsync(id, cancellationToken)).Select(WebhookDto.From).ToList(), null));
        }
        return TypedResults.Ok(new Page<WebhookDto>((await store.ByOwnerAsync(me, cancellationToken)).Select(WebhookDto.From).ToList(), null));
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(
        Guid id, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, CancellationToken cancellationToken)
    {
        if (await ManageableAsync(id, principal, session, store, cancellationToken) is not { } webhook)
            return TypedResults.NotFound();
        await store.DeleteAsync(webhook.Id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<WebhookSecretRotated>, NotFound>> RotateAsync(
        Guid id, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, WebhookSecrets secrets, IOptions<WebhookOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if (await ManageableAsync(id, principal, session, store, cancellationToken) is not { } webhook)
            return TypedResults.NotFound();
        var secret = WebhookSecrets.Generate();
        var until = time.GetUtcNow() + options.Value.SecretGracePeriod;
        // The secret being replaced keeps signing (as a second v1=) until the grace period ends; a rotation during the
        // grace period of an earlier one drops that earlier secret.
        await store.RotateAsync(webhook.Id, secrets.Protect(secret), webhook.ProtectedSecret, until, cancellationToken);
        return TypedResults.Ok(new WebhookSecretRotated(webhook.Id, secret, until));
    }

    private static async Task<Results<Ok<Page<WebhookDeliveryDto>>, NotFound, ProblemHttpResult>> DeliveriesAsync(
        Guid id, int? limit, string? cursor, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 200)
            return Http.Invalid("limit is 1 to 200.");
        long? before = null;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, out var parsed) || parsed < 1)
                return Http.Invalid("cursor is the next value of the previous page.");
            before = parsed;
        }
        if (await ManageableAsync(id, principal, session, store, cancellationToken) is not { } webhook)
            return TypedResults.NotFound();
        var size = limit ?? 50;
        var page = await store.DeliveriesAsync(webhook.Id, before, size + 1, cancellationToken);
        var next = page.Count > size ? page[size - 1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new Page<WebhookDeliveryDto>(page.Take(size).Select(WebhookDeliveryDto.From).ToList(), next));
    }

    /// <summary>Null when the user is an admin or owner of the conversation; 404 for a non-member (who learns nothing), else 403.</summary>
    private static async Task<ProblemHttpResult?> ManagesAsync(IQuerySession session, Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        var conversation = await session.LoadAsync<ConversationInfo>(conversationId, cancellationToken);
        if (conversation is null || !conversation.Members.TryGetValue(userId, out var member) || !member.Active)
            return TypedResults.Problem("No such conversation (or you are not a member of it).", statusCode: StatusCodes.Status404NotFound, title: "Conversation not found");
        if (!member.Manages)
            return TypedResults.Problem("Only the conversation's admins and owners manage its webhooks.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
        return null;
    }

    private static async Task<Webhook?> ManageableAsync(Guid id, ClaimsPrincipal principal, IQuerySession session, WebhookStore store, CancellationToken cancellationToken)
    {
        var webhook = await store.GetAsync(id, cancellationToken);
        if (webhook is null)
            return null;
        var me = principal.UserId();
        if (webhook.OwnerId == me || principal.IsInRole("admin"))
            return webhook;
        return webhook.ConversationId is { } conversationId && await ManagesAsync(session, conversationId, me, cancellationToken) is null ? webhook : null;
    }
}
