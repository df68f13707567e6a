using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// <c>GET /internal/v1/conversation-events?after=&amp;limit=</c>: every conversation's events in the order of the
/// store's global sequence (<c>mt_events.seq_id</c>), each as the envelope the outbox puts on the bus, and the log's
/// head. For services that rebuild what they derive from the log (a first start, a lost queue). Not public: the
/// Gateway routes no <c>/internal</c> path, and only a service's client-credentials token with the
/// <see cref="ConversationLogFeed.Scope"/> scope gets in (a user's token gets 403).
/// </summary>
public static class ConversationLogFeedEndpoint
{
    public const string Policy = "conversation-log";

    public static void AddConversationLogFeedPolicy(this IHostApplicationBuilder builder) =>
        builder.Services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy.RequireService(ConversationLogFeed.Scope));

    public static void MapConversationLogFeed(this WebApplication app) =>
        app.MapGet(ConversationLogFeed.Path, Handle).RequireAuthorization(Policy).ExcludeFromDescription().WithName("ConversationLogFeed");

    private static async Task<Results<Ok<ConversationLogPage>, ProblemHttpResult>> Handle(
        long? after, int? limit, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        if (after is < 0)
            return Http.Invalid("after is a position: zero or more.");
        var size = Http.PageSize(limit, options.Value);
        var from = after ?? 0;
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.Sequence > from)
            .OrderBy(e => e.Sequence)
            .Take(size)
            .ToListAsync(cancellationToken);
        // Read after the page, so the head is never behind it.
        var head = (await session.QueryAsync<long>($"select coalesce(max(seq_id), 0) from {MessagingServiceExtensions.Schema}.mt_events", cancellationToken)).Single();

        // The outbox's own mapping: the bus and the feed carry the same envelope. A posted message is as it was posted
        // (deleted text is already erased from the stored event).
        var items = events.Select(e => new ConversationLogEntry
        {
            Position = e.Sequence,
            Event = Envelopes.ToContract(e.StreamId, e.Version, e.Data, e.Id, e.Timestamp),
        }).ToList();
        var last = items.Count > 0 ? items[^1].Position : from;
        return TypedResults.Ok(new ConversationLogPage { Items = items, Next = items.Count == size && last < head ? last : null, Head = head });
    }
}
