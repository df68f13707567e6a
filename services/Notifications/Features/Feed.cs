using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Features;

public sealed record NotificationDto(Guid Id, string Kind, Guid? ConversationId, long? Seq, Guid? MessageId, Guid? ActorId, string Title, string? Body,
    DateTimeOffset CreatedAt, bool Read)
{
    public static NotificationDto From(Notification n) => new(n.Id, n.Kind, n.ConversationId, n.Seq, n.MessageId, n.ActorId, n.Title, n.Body, n.CreatedAt, n.ReadAt is not null);
}

public sealed record FeedPage(IReadOnlyList<NotificationDto> Items, string? Next, int UnreadCount);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record MarkReadRequest(Guid[]? Ids, DateTimeOffset? UpTo);

public sealed record UnreadTotal(int UnreadCount);

/// <summary><c>GET /api/v1/notifications</c> (newest first, paged, with the unread count) and <c>POST /api/v1/notifications/read</c>.</summary>
public static class Feed
{
    public const int MaxLimit = 100;

    public static RouteGroupBuilder MapFeed(this RouteGroupBuilder notifications)
    {
        notifications.MapGet("/", ListAsync);
        notifications.MapPost("/read", MarkReadAsync);
        return notifications;
    }

    private static async Task<Results<Ok<FeedPage>, ProblemHttpResult>> ListAsync(
        int? limit, string? cursor, bool? unread, ClaimsPrincipal principal, IQuerySession session, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxLimit)
            return Http.Invalid($"limit is 1 to {MaxLimit}.");
        DateTimeOffset? before = null;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
                return Http.Invalid("cursor is the next value of a previous page.");
            before = new DateTimeOffset(ticks, TimeSpan.Zero);
        }
        var me = principal.UserId();
        var take = limit ?? 30;
        var query = session.Query<Notification>().Where(n => n.UserId == me && !n.Deleted);
        if (unread == true)
            query = query.Where(n => n.ReadAt == null);
        if (before is { } at)
            query = query.Where(n => n.CreatedAt < at);
        var items = await query.OrderByDescending(n => n.CreatedAt).Take(take + 1).ToListAsync(cancellationToken);
        var more = items.Count > take;
        var page = items.Take(take).ToList();
        var unreadCount = await session.Query<Notification>().CountAsync(n => n.UserId == me && !n.Deleted && n.ReadAt == null, cancellationToken);
        return TypedResults.Ok(new FeedPage(page.Select(NotificationDto.From).ToList(),
            more ? page[^1].CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture) : null, unreadCount));
    }

    private static async Task<Results<Ok<UnreadTotal>, ProblemHttpResult>> MarkReadAsync(
        MarkReadRequest request, ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request.Ids is null == request.UpTo is null)
            return Http.Invalid("Give either ids (up to 500) or upTo (a time: everything up to it).");
        if (request.Ids is { Length: 0 or > 500 })
            return Http.Invalid("ids holds 1 to 500 notification ids.");
        var me = principal.UserId();
        var now = time.GetUtcNow();
        IReadOnlyList<Notification> marking;
        if (request.Ids is { } ids)
            marking = await session.Query<Notification>().Where(n => n.UserId == me && ids.Contains(n.Id) && n.ReadAt == null).ToListAsync(cancellationToken);
        else
        {
            var upTo = request.UpTo!.Value;
            marking = await session.Query<Notification>().Where(n => n.UserId == me && n.CreatedAt <= upTo && n.ReadAt == null).ToListAsync(cancellationToken);
        }
        foreach (var notification in marking)
        {
            notification.ReadAt = now;
            session.Store(notification);
        }
        await Push.PushCorrections.ScheduleAsync(session, marking, now, cancellationToken);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new UnreadTotal(await session.Query<Notification>().CountAsync(n => n.UserId == me && !n.Deleted && n.ReadAt == null, cancellationToken)));
    }
}
