using JasperFx.Events;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>
/// Time travel: a conversation's messages and members as they were at a seq (<c>asOfSeq</c>) or at a time (<c>asOf</c>,
/// the last seq committed by then). Rebuilt from the log, reading only what the answer needs: the page of messages
/// that existed then comes from the message read model (seq ≤ the point), and each is replayed from the events that
/// name it (posted, edits, reactions, link previews, pins, replies, delete) up to the point. Erased content stays
/// erased: erasure blanks the stored events themselves (a message deleted later shows as it was, without its text),
/// and expired or deleted messages' text is gone from every event.
/// </summary>
public static class TimeTravel
{
    /// <summary>The seq the request travels to, bounded by what the reader may see; or why the request is refused.</summary>
    public static async Task<(long Seq, DomainError? Error)> PointAsync(
        IQuerySession session, Guid conversationId, DateTimeOffset? asOf, long? asOfSeq, long visibleUpTo, CancellationToken cancellationToken)
    {
        if (asOf is not null && asOfSeq is not null)
            return (0, DomainError.Invalid("Give asOf or asOfSeq, not both."));
        if (asOfSeq is < 0)
            return (0, DomainError.Invalid("asOfSeq is a seq: zero or more."));
        if (asOfSeq is { } seq)
            return (Math.Min(seq, visibleUpTo), null);
        var time = asOf!.Value.ToUniversalTime();
        var at = await session.Events.QueryAllRawEvents()
            .Where(e => e.StreamId == conversationId && e.Timestamp <= time && e.Version <= visibleUpTo)
            .OrderByDescending(e => e.Version)
            .Select(e => e.Version)
            .FirstOrDefaultAsync(cancellationToken);
        return (at, null);
    }

    /// <summary>The messages as they were at <paramref name="point"/>.</summary>
    public static async Task<List<MessageView>> AsOfAsync(IQuerySession session, Guid conversationId, IReadOnlyList<MessageView> messages, long point, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
            return [];
        var ids = messages.Select(m => m.Id.ToString("D")).ToArray();
        var schema = session.DocumentStore.Options.Events.DatabaseSchemaName;
        // The events naming these messages, between the oldest of them and the point: the (stream_id, version) index
        // bounds the range; the rest is a filter on those rows.
        var versions = await session.QueryAsync<long>(
            $"""
            select version from {schema}.mt_events
            where stream_id = ? and version >= ? and version <= ?
              and (data ->> 'messageId' = any(?) or data ->> 'replyTo' = any(?))
            order by version
            """,
            cancellationToken, conversationId, messages.Min(m => m.Seq), point, ids, ids);
        var events = new List<IEvent>();
        foreach (var chunk in versions.Chunk(1000))
            events.AddRange(await session.Events.QueryAllRawEvents()
                .Where(e => e.StreamId == conversationId && e.Version.IsOneOf(chunk))
                .ToListAsync(cancellationToken));

        var states = new Dictionary<Guid, MessageView>();
        foreach (var e in events.OrderBy(e => e.Version))
        {
            if (e.Data is MessagePosted posted && messages.Any(m => m.Id == posted.MessageId))
                states[posted.MessageId] = MessageView.Create(conversationId, e.Version, posted);
            var target = e.Data switch
            {
                MessagePosted reply when reply.ReplyTo is { } root => root,
                IChangesMessage x => x.MessageId,
                _ => Guid.Empty,
            };
            if (target != Guid.Empty && states.TryGetValue(target, out var state))
                states[target] = state.Apply(e.Version, e.Data);
        }
        // A message whose posted event is gone (never the case today) is shown as the read model has it.
        return messages.Select(m => states.GetValueOrDefault(m.Id) ?? m).ToList();
    }

    /// <summary>The members at <paramref name="point"/>, by user id after <paramref name="after"/>, from the membership events up to then.</summary>
    public static async Task<(List<MemberDto> Items, bool More)> MembersAsOfAsync(
        IQuerySession session, Guid conversationId, long point, Guid after, int size, CancellationToken cancellationToken)
    {
        var graph = (Marten.Events.EventGraph)((DocumentStore)session.DocumentStore).Options.Events;
        var types = new[] { typeof(ConversationCreated), typeof(MemberJoined), typeof(MemberLeft), typeof(MemberRoleChanged) }
            .Select(t => graph.EventMappingFor(t).EventTypeName).ToArray();
        var schema = session.DocumentStore.Options.Events.DatabaseSchemaName;
        var versions = await session.QueryAsync<long>(
            $"select version from {schema}.mt_events where stream_id = ? and version <= ? and type = any(?) order by version",
            cancellationToken, conversationId, point, types);
        var members = new Dictionary<Guid, MemberDto>();
        foreach (var chunk in versions.Chunk(1000))
        {
            var events = await session.Events.QueryAllRawEvents()
                .Where(e => e.StreamId == conversationId && e.Version.IsOneOf(chunk))
                .ToListAsync(cancellationToken);
            foreach (var e in events.OrderBy(e => e.Version))
            {
                switch (e.Data)
                {
                    case ConversationCreated created:
                        foreach (var m in created.Members)
                            members[m.UserId] = new MemberDto(m.UserId, m.Role, e.Version, created.CreatedAt);
                        break;
                    case MemberJoined joined:
                        members[joined.UserId] = new MemberDto(joined.UserId, joined.Role, e.Version, joined.JoinedAt);
                        break;
                    case MemberLeft left:
                        members.Remove(left.UserId);
                        break;
                    case MemberRoleChanged changed when members.TryGetValue(changed.UserId, out var member):
                        members[changed.UserId] = member with { Role = changed.Role };
                        break;
                }
            }
        }
        var page = members.Values.Where(m => m.UserId.CompareTo(after) > 0).OrderBy(m => m.UserId).Take(size + 1).ToList();
        return (page.Take(size).ToList(), page.Count > size);
    }
}
