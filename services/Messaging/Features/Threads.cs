using System.Globalization;
using Marten;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record ThreadDto(MessageDto Root, IReadOnlyList<MessageDto> Items, string? Next, bool Following, long ReadSeq);

public sealed record ThreadRow(
    Guid Id, Guid ConversationId, MessageDto Root, int ReplyCount, DateTimeOffset? LastReplyAt, int UnreadCount, int MentionCount, long ReadSeq);

public sealed record ThreadReadRequest(long? Seq);

public sealed record ThreadReadDto(Guid Id, Guid ConversationId, bool Following, long ReadSeq);

/// <summary>
/// Threads: a root message and its replies (a reply to a reply joins the root's thread). The thread view, following
/// and per-user unread. Replying follows the thread; the root's author follows it when the first reply comes, unless
/// they unfollowed it before. Follows are documents written with the conversation's writes (<see cref="ConversationWriter"/>),
/// under the same lock, so a reply and a follow or read never overwrite each other.
/// </summary>
public static class Threads
{
    public const string ReplyToIndex = "mt_doc_message_idx_reply_to";

    public static void MapThreads(this RouteGroupBuilder group)
    {
        group.MapGet("/{id:guid}/messages/{messageId:guid}/thread", Get).WithName("GetThread");
        group.MapPut("/{id:guid}/messages/{messageId:guid}/follow", (Guid id, Guid messageId, HttpContext http, ConversationWriter writer, TimeProvider time,
                FollowChanges changes, CancellationToken ct)
            => SetFollowing(id, messageId, follow: true, http, writer, time, changes, ct)).WithName("FollowThread");
        group.MapDelete("/{id:guid}/messages/{messageId:guid}/follow", (Guid id, Guid messageId, HttpContext http, ConversationWriter writer, TimeProvider time,
                FollowChanges changes, CancellationToken ct)
            => SetFollowing(id, messageId, follow: false, http, writer, time, changes, ct)).WithName("UnfollowThread");
        group.MapPost("/{id:guid}/messages/{messageId:guid}/thread/read", MarkRead).WithName("MarkThreadRead");
    }

    public static void MapFollowedThreads(this RouteGroupBuilder group) =>
        group.MapGet("/", List).WithName("ListFollowedThreads");

    /// <summary>Called by the writer for each reply: the poster follows (having read up to their reply), and so does the root's author.</summary>
    public static async Task FollowOnReplyAsync(WriteContext context, MessageView root, MessagePosted reply, long seq, CancellationToken cancellationToken)
    {
        var poster = await context.Follow(reply.SenderId, root.Id, cancellationToken) ?? ThreadFollow.For(reply.SenderId, root, seq, reply.PostedAt);
        context.Set(poster with { Following = true, ReadSeq = Math.Max(poster.ReadSeq, seq), UnfollowedAt = null, UpdatedAt = reply.PostedAt });
        if (root.SenderId == reply.SenderId || await context.Member(root.SenderId, cancellationToken) is not { Active: true })
            return;
        if (await context.Follow(root.SenderId, root.Id, cancellationToken) is { } existing)
        {
            if (!existing.Following && existing.UnfollowedAt is null)
                context.Set(existing with { Following = true, UpdatedAt = reply.PostedAt });
            return;
        }
        // The author has read their own root; the replies are news.
        context.Set(ThreadFollow.For(root.SenderId, root, root.Seq, reply.PostedAt) with { Following = true });
    }

    /// <summary>The thread's root: the message itself, or the root of the thread it replies in.</summary>
    private static async Task<MessageView?> RootAsync(IQuerySession session, Guid conversationId, Guid messageId, CancellationToken cancellationToken)
    {
        var message = await session.LoadAsync<MessageView>(messageId, cancellationToken);
        if (message is null || message.ConversationId != conversationId)
            return null;
        if (message.ReplyTo is not { } rootId)
            return message;
        var root = await session.LoadAsync<MessageView>(rootId, cancellationToken);
        return root?.ConversationId == conversationId ? root : null;
    }

    /// <summary>
    /// The root and its replies in seq order, after <c>after</c>; <c>next</c> continues forward. Members read it; former
    /// members up to their leaving. The id of a reply shows its root's thread.
    /// </summary>
    private static async Task<Results<Ok<ThreadDto>, ProblemHttpResult>> Get(
        Guid id, Guid messageId, long? after, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options,
        CancellationToken cancellationToken)
    {
        if (after is < 0)
            return Http.Invalid("after is a seq: zero or more.");
        if (limit is < 1)
            return Http.Invalid("limit is at least 1.");
        var userId = http.User.UserId();
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var visibleUpTo = member.VisibleUpTo(long.MaxValue);
        if (await RootAsync(session, id, messageId, cancellationToken) is not { } root || root.Seq > visibleUpTo)
            return Http.Problem(DomainError.MessageNotFound);
        var size = Http.PageSize(limit, options.Value);
        var from = after ?? 0;
        var replies = await session.Query<MessageView>()
            .Where(m => m.ReplyTo == root.Id && m.ConversationId == id && m.Seq > from && m.Seq <= visibleUpTo)
            .OrderBy(m => m.Seq).Take(size + 1).ToListAsync(cancellationToken);
        var page = replies.Take(size).ToList();
        var follow = await session.LoadAsync<ThreadFollow>(ThreadFollow.KeyOf(userId, root.Id), cancellationToken);
        return TypedResults.Ok(new ThreadDto(MessageDtos.ToDto(root), page.Select(MessageDtos.ToDto).ToList(),
            replies.Count > size ? page[^1].Seq.ToString(CultureInfo.InvariantCulture) : null, follow?.Following ?? false, follow?.ReadSeq ?? 0));
    }

    /// <summary>Following a thread marks what it holds now as read; unfollowing keeps the user from being followed back as the root's author.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> SetFollowing(
        Guid id, Guid messageId, bool follow, HttpContext http, ConversationWriter writer, TimeProvider time, FollowChanges changes,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        UntoldFollowChange? untold = null;
        var result = await writer.WriteAsync(id, new Preload([userId], [messageId]), async context =>
        {
            var (root, error) = await ThreadOf(context, userId, messageId, cancellationToken);
            if (error is not null)
                return error;
            var now = time.GetUtcNow();
            var current = await context.Follow(userId, root!.Id, cancellationToken);
            if (follow)
            {
                if (root.Deleted)
                    return DomainError.Conflict("The message was deleted.");
                var state = current ?? ThreadFollow.For(userId, root, root.Seq, now);
                context.Set(state with { Following = true, UnfollowedAt = null, ReadSeq = Math.Max(state.ReadSeq, context.Conversation.LastSeq), UpdatedAt = now });
            }
            else if (current is not null)
                context.Set(current with { Following = false, UnfollowedAt = now, UpdatedAt = now });
            else
                context.Set(ThreadFollow.For(userId, root, root.Seq, now) with { UnfollowedAt = now });
            // Notifications notifies a thread's followers of replies and learns explicit follows from ThreadFollowChanged:
            // the change to tell is stored with the follow, so it reaches Notifications even if the publish below fails.
            untold = new UntoldFollowChange
            {
                Id = ThreadFollow.KeyOf(userId, root.Id), ConversationId = id, RootId = root.Id, UserId = userId, Following = follow, ChangedAt = now,
            };
            context.Tell(untold);
            return Decision.Nothing;
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        await changes.PublishAsync(untold!, cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Moves the caller's read marker of the thread forward, to <c>seq</c> or (without it) to the thread's end.</summary>
    private static async Task<Results<Ok<ThreadReadDto>, ProblemHttpResult>> MarkRead(
        Guid id, Guid messageId, ThreadReadRequest? request, HttpContext http, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request?.Seq is < 0)
            return Http.Invalid("seq is zero or more.");
        var userId = http.User.UserId();
        ThreadFollow? marked = null;
        var result = await writer.WriteAsync(id, new Preload([userId], [messageId]), async context =>
        {
            var (root, error) = await ThreadOf(context, userId, messageId, cancellationToken);
            if (error is not null)
                return error;
            var lastSeq = context.Conversation.LastSeq;
            if (request?.Seq > lastSeq)
                return DomainError.Invalid($"The conversation's log ends at seq {lastSeq}.");
            var now = time.GetUtcNow();
            var state = await context.Follow(userId, root!.Id, cancellationToken) ?? ThreadFollow.For(userId, root, root.Seq, now);
            marked = state with { ReadSeq = Math.Max(state.ReadSeq, request?.Seq ?? lastSeq), UpdatedAt = now };
            context.Set(marked);
            return Decision.Nothing;
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        return TypedResults.Ok(new ThreadReadDto(marked!.RootId, marked.ConversationId, marked.Following, marked.ReadSeq));
    }

    private static async Task<(MessageView? Root, DomainError? Error)> ThreadOf(WriteContext context, Guid userId, Guid messageId, CancellationToken cancellationToken)
    {
        if (await context.Member(userId, cancellationToken) is not { Active: true })
            return (null, DomainError.ConversationNotFound);
        if (await context.Message(messageId, cancellationToken) is not { } message)
            return (null, DomainError.MessageNotFound);
        if (message.ReplyTo is not { } rootId)
            return (message, null);
        return await context.Message(rootId, cancellationToken) is { } root ? (root, null) : (null, DomainError.MessageNotFound);
    }

    private sealed record Row(ThreadFollow Follow, MessageView Root, int Unread, int Mentions);

    /// <summary>
    /// The threads I follow in conversations I am a member of, newest reply first, by keyset on (last reply, root id),
    /// with unread replies (from others, after my thread read marker) and those of them mentioning me, each counted up to
    /// <see cref="MessagingOptions.UnreadCountCap"/>.
    /// </summary>
    private static async Task<Results<Ok<Page<ThreadRow>>, ProblemHttpResult>> List(
        string? cursor, int? limit, HttpContext http, IQuerySession session, IOptions<MessagingOptions> options, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var (before, beforeId) = (DateTimeOffset.MaxValue, MaxGuid);
        if (cursor is not null && !TryReadCursor(cursor, out before, out beforeId))
            return Http.Invalid("cursor is not one this endpoint returned.");
        var size = Math.Min(Http.PageSize(limit, options.Value), 200);
        var cap = options.Value.UnreadCountCap;
        const string schema = MessagingServiceExtensions.Schema;
        foreach (var table in new[] { typeof(ThreadFollow), typeof(Membership), typeof(MessageView) })
            await session.Database.EnsureStorageExistsAsync(table, cancellationToken);

        // Replies by the computed index on replyTo (the same expression Marten indexes: CAST(data ->> 'replyTo' as uuid)).
        var rows = await session.QueryAsync<Row>($$"""
            select jsonb_build_object(
              'follow', f.data,
              'root', r.data,
              'unread', (select count(*) from (select 1 from {{schema}}.mt_doc_message x
                  where CAST(x.data ->> 'replyTo' as uuid) = r.id and x.seq > (f.data->>'readSeq')::bigint
                    and (x.data->>'senderId')::uuid <> f.user_id and not (x.data->>'deleted')::boolean limit ?) u),
              'mentions', (select count(*) from (select 1 from {{schema}}.mt_doc_message x
                  where CAST(x.data ->> 'replyTo' as uuid) = r.id and x.seq > (f.data->>'readSeq')::bigint
                    and jsonb_exists(x.data->'mentions', ?) and not (x.data->>'deleted')::boolean limit ?) u))
            from {{schema}}.mt_doc_thread_follow f
            join {{schema}}.mt_doc_message r on r.id = (f.data->>'rootId')::uuid
            join {{schema}}.mt_doc_membership m on m.conversation_id = r.conversation_id and m.user_id = f.user_id
            where f.user_id = ? and (f.data->>'following')::boolean and (m.data->>'active')::boolean
              and (coalesce(r.data->>'lastReplyAt', r.data->>'createdAt')::timestamptz, r.id) < (?, ?)
            order by coalesce(r.data->>'lastReplyAt', r.data->>'createdAt')::timestamptz desc, r.id desc
            limit ?
            """, cancellationToken, cap, userId.ToString(), cap, userId, before, beforeId, size + 1);

        var items = rows.Take(size).Select(r => new ThreadRow(r.Root.Id, r.Root.ConversationId, MessageDtos.ToDto(r.Root), r.Root.ReplyCount, r.Root.LastReplyAt,
            r.Unread, r.Mentions, r.Follow.ReadSeq)).ToList();
        var next = rows.Count > size ? WriteCursor(items[^1].LastReplyAt ?? items[^1].Root.CreatedAt, items[^1].Id) : null;
        return TypedResults.Ok(new Page<ThreadRow>(items, next));
    }

    private static readonly Guid MaxGuid = new("ffffffff-ffff-ffff-ffff-ffffffffffff");

    private static string WriteCursor(DateTimeOffset at, Guid id) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{at.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{id:N}")).TrimEnd('=');

    private static bool TryReadCursor(string cursor, out DateTimeOffset at, out Guid id)
    {
        at = default;
        id = default;
        try
        {
            var padded = cursor.PadRight(cursor.Length + (4 - cursor.Length % 4) % 4, '=');
            var parts = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(':');
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || ticks > DateTimeOffset.MaxValue.UtcTicks || !Guid.TryParseExact(parts[1], "N", out id))
                return false;
            at = new DateTimeOffset(ticks, TimeSpan.Zero);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
