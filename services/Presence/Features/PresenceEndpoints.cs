using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Presence.Data;
using Platform.Presence.Domain;
using Platform.ServiceDefaults;

namespace Platform.Presence.Features;

public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

public sealed record Occupancy(Guid ConversationId, int Members, int Online, IReadOnlyList<PresenceView> Items);

/// <summary>The status a user sets: <c>available</c>, <c>away</c>, <c>dnd</c> or <c>invisible</c>, with an optional text and expiry.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PresenceQuery(string[]? UserIds);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetStatusRequest(string? Status, string? StatusText, DateTimeOffset? ExpiresAt);

/// <summary>
/// <c>GET /api/v1/presence?userIds=</c> (batch), <c>GET/PUT /api/v1/presence/me</c> (my status) and
/// <c>GET /api/v1/conversations/{id}/occupancy</c> (members online now).
/// </summary>
public static class PresenceEndpoints
{
    public static WebApplication MapPresenceEndpoints(this WebApplication app)
    {
        var presence = app.MapGroup("/api/v1/presence").RequireAuthorization().WithTags("Presence");
        presence.MapGet("/", GetAsync);
        presence.MapPost("/query", QueryAsync);
        presence.MapGet("/me", GetMineAsync);
        presence.MapPut("/me", SetMineAsync);
        // Presence's part of the caller's data export (Identity asks with the user's own token; not routed by the Gateway).
        app.MapGet("/internal/v1/export", async (ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken) =>
            TypedResults.Ok(new { presence = await store.ReadOwnAsync(principal.UserId(), cancellationToken) })).RequireAuthorization().ExcludeFromDescription();
        app.MapGet("/api/v1/conversations/{conversationId:guid}/occupancy", OccupancyAsync).RequireAuthorization().WithTags("Presence");
        return app;
    }

    private static Task<Results<Ok<Page<PresenceView>>, ProblemHttpResult>> GetAsync(
        HttpContext http, ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken) =>
        ReadAsync(http.Request.Query["userIds"].SelectMany(value => (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
            principal, store, cancellationToken);

    /// <summary>The same as the GET, with the ids in the body (500 ids make a long URL).</summary>
    private static Task<Results<Ok<Page<PresenceView>>, ProblemHttpResult>> QueryAsync(
        PresenceQuery query, ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken) =>
        ReadAsync((query.UserIds ?? []).Select(id => id ?? "").ToList(), principal, store, cancellationToken);

    private static async Task<Results<Ok<Page<PresenceView>>, ProblemHttpResult>> ReadAsync(
        List<string> raw, ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken)
    {
        if (raw.Count == 0)
            return Invalid("Give the users as userIds=id1,id2 (or repeat userIds); at least one.");
        var malformed = raw.Where(value => !Guid.TryParse(value, out _)).Take(5).ToList();
        if (malformed.Count > 0)
            return Invalid($"userIds must be user ids (GUIDs); not: {string.Join(", ", malformed.Select(value => value.Length > 40 ? value[..40] + "..." : value))}.");
        var ids = raw.Select(Guid.Parse).Distinct().ToList();
        if (ids.Count > PresenceOptions.MaxUserIds)
            return Invalid($"At most {PresenceOptions.MaxUserIds} user ids in one request; this one has {ids.Count}.");
        return TypedResults.Ok(new Page<PresenceView>(await store.ReadAsync(principal.UserId(), ids, cancellationToken), null));
    }

    private static async Task<Ok<OwnPresence>> GetMineAsync(ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.ReadOwnAsync(principal.UserId(), cancellationToken));

    private static async Task<Results<Ok<OwnPresence>, ProblemHttpResult>> SetMineAsync(
        SetStatusRequest request, ClaimsPrincipal principal, PresenceStore store, PresencePublisher publisher,
        IOptions<PresenceOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request.Status is null || !UserStatus.All.Contains(request.Status))
            return Invalid($"status must be one of: {string.Join(", ", UserStatus.All)}.");
        var text = string.IsNullOrWhiteSpace(request.StatusText) ? null : request.StatusText.Trim();
        if (text is not null && (text.Length > options.Value.StatusTextMaxLength || text.Any(char.IsControl)))
            return Invalid($"statusText is at most {options.Value.StatusTextMaxLength} characters, without control characters.");
        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expires && (expires <= now || expires > now.AddYears(1)))
            return Invalid("expiresAt must be in the future, within a year.");

        var userId = principal.UserId();
        var change = await store.SetStatusAsync(userId, new UserStatus(request.Status, text, request.ExpiresAt?.ToUniversalTime()), cancellationToken);
        await publisher.PublishAsync(change, cancellationToken);
        return TypedResults.Ok(await store.ReadOwnAsync(userId, cancellationToken));
    }

    private static async Task<Results<Ok<Occupancy>, ProblemHttpResult>> OccupancyAsync(
        Guid conversationId, ClaimsPrincipal principal, PresenceStore store, CancellationToken cancellationToken)
    {
        var occupancy = await store.OccupancyAsync(principal.UserId(), conversationId, cancellationToken);
        if (occupancy is not { } found)
            return TypedResults.Problem("No such conversation, or you are not a member of it.", statusCode: StatusCodes.Status404NotFound, title: "Conversation not found");
        return TypedResults.Ok(new Occupancy(conversationId, found.Members, found.Online.Count, found.Online));
    }

    private static ProblemHttpResult Invalid(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");
}
