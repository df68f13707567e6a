using Marten;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>What Media announced about a file (<c>MediaReady</c>), kept until a message that carries the file is posted.</summary>
public sealed record MediaDetails
{
    public Guid Id { get; init; }
    public Guid OwnerId { get; init; }
    public AttachmentDetails Details { get; init; } = null!;
    public DateTimeOffset ReadyAt { get; init; }
}

/// <summary>A message carries a file: found by the file's id when Media announces it after the message was posted.</summary>
public sealed record AttachmentUse
{
    public string Id { get; init; } = "";
    public Guid MediaId { get; init; }
    public Guid ConversationId { get; init; }
    public Guid MessageId { get; init; }

    public static string KeyOf(Guid mediaId, Guid messageId) => $"{mediaId:N}:{messageId:N}";
}

/// <summary>
/// Fills a message's attachments with what Media found out (<c>message.attachments-ready</c>), in either order: the
/// message posted after the file was processed (at the send, in the same write) or before (when <c>MediaReady</c>
/// arrives). Each side writes its half, then looks for the other's, so one of them always sees both.
/// </summary>
public static class Attachments
{
    /// <summary>
    /// The details not yet on the message, of files its sender uploaded (or, for a forward, the origin's author): a
    /// message naming someone else's file id learns nothing about it, as Media links nothing for it.
    /// </summary>
    public static Decision Decide(MessageView? message, IEnumerable<MediaDetails> known, Guid? originSender, DateTimeOffset now)
    {
        if (message is null || message.Deleted)
            return Decision.Nothing;
        var ready = known
            .Where(m => message.Attachments.Contains(m.Id) && message.AttachmentDetails.All(d => d.Id != m.Id))
            .Where(m => m.OwnerId == message.SenderId || (originSender is { } origin && m.OwnerId == origin))
            .OrderBy(m => message.Attachments.ToList().IndexOf(m.Id))
            .Select(m => m.Details with { Id = m.Id })
            .ToList();
        return ready.Count == 0 ? Decision.Nothing : Decision.Of(new MessageAttachmentsReady(message.Id, ready, now));
    }

    /// <summary>The decision for a message of the conversation being written.</summary>
    public static async Task<Decision> DecideAsync(WriteContext context, MessageView? message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (message is null || message.Deleted || message.Attachments.Count == message.AttachmentDetails.Count)
            return Decision.Nothing;
        var known = await context.Session.LoadManyAsync<MediaDetails>(cancellationToken, message.Attachments.ToArray());
        if (known.Count == 0)
            return Decision.Nothing;
        Guid? originSender = null;
        if (message.ForwardedFrom is { } origin && known.Any(k => k.OwnerId != message.SenderId))
            originSender = (await context.Session.LoadAsync<MessageView>(origin.MessageId, cancellationToken)) is { } found && found.ConversationId == origin.ConversationId
                ? found.SenderId
                : null;
        return Decide(message, known, originSender, now);
    }

    /// <summary>Appends the details Media has announced that the message lacks; nothing when it has them all.</summary>
    public static async Task FillAsync(ConversationWriter writer, Guid conversationId, Guid messageId, TimeProvider time, CancellationToken cancellationToken) =>
        await writer.WriteAsync(conversationId,
            async context => await DecideAsync(context, await context.Message(messageId, cancellationToken), time.GetUtcNow(), cancellationToken),
            cancellationToken);
}
