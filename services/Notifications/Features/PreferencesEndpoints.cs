using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PreferencesDto(string? Default, IReadOnlyList<ConversationPreference>? Conversations, QuietHours? QuietHours);

/// <summary><c>GET/PUT /api/v1/notifications/preferences</c>: per conversation <c>all</c>, <c>mentions</c> or <c>none</c> (optionally until a time), a default, and quiet hours.</summary>
public static class PreferencesEndpoints
{
    public const int MaxConversations = 1000;

    public static RouteGroupBuilder MapPreferences(this RouteGroupBuilder notifications)
    {
        notifications.MapGet("/preferences", GetAsync);
        notifications.MapPut("/preferences", PutAsync);
        return notifications;
    }

    private static async Task<Ok<PreferencesDto>> GetAsync(ClaimsPrincipal principal, IQuerySession session, CancellationToken cancellationToken)
    {
        var preferences = await session.LoadAsync<Preferences>(principal.UserId(), cancellationToken);
        return TypedResults.Ok(new PreferencesDto(preferences?.Default, preferences?.Conversations ?? [], preferences?.QuietHours));
    }

    private static async Task<Results<Ok<PreferencesDto>, ProblemHttpResult>> PutAsync(
        PreferencesDto request, ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken cancellationToken)
    {
        var me = principal.UserId();
        if (request.Default is { } level && !Levels.Valid.Contains(level))
            return Http.Invalid("default must be all, mentions or none.");
        var conversations = request.Conversations ?? [];
        if (conversations.Count > MaxConversations)
            return Http.Invalid($"At most {MaxConversations} conversations.");
        if (conversations.Any(c => c is null || !Levels.Valid.Contains(c.Level ?? "")))
            return Http.Invalid("Each conversation needs conversationId and level: all, mentions or none.");
        if (conversations.Select(c => c.ConversationId).Distinct().Count() != conversations.Count)
            return Http.Invalid("A conversation appears twice.");
        var now = time.GetUtcNow();
        if (conversations.Any(c => c.MutedUntil is { } until && until <= now))
            return Http.Invalid("mutedUntil must be in the future.");
        if (request.QuietHours is { } quiet
            && (!Quiet.TryParse(quiet.Start ?? "", out var start) || !Quiet.TryParse(quiet.End ?? "", out var end) || start == end
                || !TimeZoneInfo.TryFindSystemTimeZoneById(quiet.TimeZone ?? "", out _)))
            return Http.Invalid("quietHours needs start and end as HH:mm (different) and timeZone as an IANA time zone such as Europe/Paris.");

        // Only conversations I belong to: anything else is a mistake or probing.
        var ids = conversations.Select(c => c.ConversationId).ToArray();
        var known = (await session.LoadManyAsync<ConversationInfo>(cancellationToken, ids))
            .Where(c => c.Members.TryGetValue(me, out var member) && member.Active).Select(c => c.Id).ToHashSet();
        var unknown = ids.Where(id => !known.Contains(id)).ToList();
        if (unknown.Count > 0)
            return TypedResults.Problem($"Not conversations of yours: {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}.",
                statusCode: StatusCodes.Status404NotFound, title: "Conversation not found");

        var preferences = new Preferences
        {
            Id = me,
            Default = request.Default,
            Conversations = conversations.Select(c => c with { MutedUntil = c.MutedUntil?.ToUniversalTime() }).ToList(),
            QuietHours = request.QuietHours,
        };
        session.Store(preferences);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new PreferencesDto(preferences.Default, preferences.Conversations, preferences.QuietHours));
    }
}
