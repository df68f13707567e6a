using System.Globalization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record SavedMessageDto(Guid ConversationId, MessageDto Message, DateTimeOffset SavedAt);

/// <summary>
/// <c>/api/v1/saved-messages</c>: a user's private bookmarks. A message is saved only while the user may read it, and
/// listed only while they still may (a conversation left shows what came before leaving; a deleted message drops out).
/// </summary>
public static class SavedMessages
{
    public const int MaxSaved = 10_000;

    public static void MapSavedMessages(this RouteGroupBuilder group)
    {
        group.MapGet("/", List).WithName("ListSavedMessages");
        group.MapPut("/{messageId:guid}", Save).WithName("SaveMessage");
        group.MapDelete("/{messageId:guid}", Forget).WithName("ForgetSavedMessage");
    }

    private static async Task<Results<Ok<SavedMessageDto>, ProblemHttpResult>> Save(
        Guid messageId, HttpContext http, IDocumentSession session, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await ReadableAsync(session, userId, messageId, cancellationToken) is not { } message)
            return Http.Problem(DomainError.MessageNotFound);
        var key = SavedMessage.KeyOf(userId, messageId);
        if (await session.LoadAsync<SavedMessage>(key, cancellationToken) is { } existing)
            return TypedResults.Ok(new SavedMessageDto(existing.ConversationId, MessageDtos.ToDto(message), existing.SavedAt));
        if (await session.Query<SavedMessage>().CountAsync(saved => saved.UserId == userId, cancellationToken) >= MaxSaved)
            return Http.Problem(DomainError.Conflict($"At most {MaxSaved} messages can be saved: remove some first."));
        var saved = new SavedMessage { Id = key, UserId = userId, MessageId = messageId, ConversationId = message.ConversationId, SavedAt = time.GetUtcNow() };
        session.Store(saved);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new SavedMessageDto(saved.ConversationId, MessageDtos.ToDto(message), saved.SavedAt));
    }

    private static async Task<NoContent> Forget(Guid messageId, HttpContext http, IDocumentSession session, CancellationToken cancellationToken)
    {
        session.Delete<SavedMessage>(SavedMessage.KeyOf(http.User.UserId(), messageId));
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Newest saved first; <c>cursor</c> is the <c>next</c> of the previous page.</summary>
    private static async Task<Results<Ok<Page<SavedMessageDto>>, ProblemHttpResult>> List(
        string? cursor, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var before = DateTimeOffset.MaxValue;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) || ticks > DateTimeOffset.MaxValue.UtcTicks)
                return Http.Invalid("cursor is the next value of the previous page.");
            before = new DateTimeOffset(ticks, TimeSpan.Zero);
        }
        var size = Http.PageSize(limit, options.Value);
        var page = await session.Query<SavedMessage>()
            .Where(saved => saved.UserId == userId && saved.SavedAt < before)
            .OrderByDescending(saved => saved.SavedAt)
            .Take(size + 1)
            .ToListAsync(cancellationToken);
        var shown = page.Take(size).ToList();
        var messages = shown.Count == 0 ? [] : (await session.LoadManyAsync<MessageView>(cancellationToken, shown.Select(s => s.MessageId).ToArray())).ToDictionary(m => m.Id);
        var memberships = shown.Count == 0 ? [] : (await session.LoadManyAsync<Membership>(cancellationToken,
            shown.Select(s => Membership.KeyOf(s.ConversationId, userId)).Distinct().ToArray())).ToDictionary(m => m.ConversationId);
        var items = shown
            .Where(saved => messages.TryGetValue(saved.MessageId, out var message) && memberships.TryGetValue(saved.ConversationId, out var member)
                && Readable(message, member))
            .Select(saved => new SavedMessageDto(saved.ConversationId, MessageDtos.ToDto(messages[saved.MessageId]), saved.SavedAt))
            .ToList();
        return TypedResults.Ok(new Page<SavedMessageDto>(items,
            page.Count > size ? shown[^1].SavedAt.UtcTicks.ToString(CultureInfo.InvariantCulture) : null));
    }

    private static async Task<MessageView?> ReadableAsync(IQuerySession session, Guid userId, Guid messageId, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<MessageView>(messageId, cancellationToken) is not { } message)
            return null;
        var member = await session.MembershipAsync(message.ConversationId, userId, cancellationToken);
        return member is not null && Readable(message, member) ? message : null;
    }

    private static bool Readable(MessageView message, Membership member) => !message.Deleted && message.Seq <= member.VisibleUpTo(long.MaxValue);
}
