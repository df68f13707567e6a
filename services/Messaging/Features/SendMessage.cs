using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <param name="Ephemeral">A bot's answer for one member only (<paramref name="EphemeralTo"/>, or the caller of the command <paramref name="ResponseId"/> names): not posted, pushed live to that member's connections.</param>
public sealed record SendMessageRequest(string? ClientMessageId, string? Text, Guid[]? Attachments, Guid? ReplyTo, ForwardReference? ForwardedFrom = null,
    bool? Ephemeral = null, Guid? EphemeralTo = null, Guid? ResponseId = null);

public static class SendMessage
{
    public const int MaxClientMessageIdLength = 100;

    public sealed record Command(
        Guid MessageId, string ClientMessageId, string Text, IReadOnlyList<Guid> Mentions, Guid? ReplyTo, IReadOnlyList<Guid> Attachments, DateTimeOffset Now,
        ForwardReference? ForwardedFrom = null, BotAuthor? Bot = null);

    /// <summary>Checks the request's shape and normalises its text; null when it is fine.</summary>
    public static DomainError? Validate(SendMessageRequest request, MessagingOptions options, out string text)
    {
        text = MessageText.Normalize(request.Text ?? "");
        if (string.IsNullOrWhiteSpace(request.ClientMessageId) || request.ClientMessageId.Length > MaxClientMessageIdLength)
            return DomainError.Invalid($"clientMessageId is required: a unique string of up to {MaxClientMessageIdLength} characters chosen by the client.");
        var attachments = request.Attachments ?? [];
        if (text.Length == 0 && attachments.Length == 0)
            return DomainError.Invalid("A message needs text or an attachment.");
        if (text.Length > options.MaxTextLength)
            return DomainError.Invalid($"The text is longer than {options.MaxTextLength} characters.");
        if (attachments.Length > options.MaxAttachments || attachments.Contains(Guid.Empty))
            return DomainError.Invalid($"A message has at most {options.MaxAttachments} attachments, each a media id.");
        return null;
    }

    /// <summary>
    /// Active members post, unless timed out, and no faster than slow mode allows; a reply's root must be a message of
    /// the same conversation.
    /// </summary>
    public static Decision Decide(ConversationView conversation, Membership? sender, Guid senderId, MessageView? root, Command command)
    {
        if (sender is not { Active: true })
            return DomainError.ConversationNotFound;
        if ((Moderation.Muted(sender, command.Now) ?? Moderation.TooSoon(conversation, sender, command.Now)) is { } refused)
            return refused;
        if (conversation.Kind == ConversationKind.Direct && conversation.MemberCount < 2)
            return DomainError.Conflict("The other member left this conversation (or declined it): it takes no more messages.");
        if (command.ReplyTo is not null && root is null)
            return DomainError.Invalid("replyTo is not a message of this conversation.");
        if (root is { Deleted: true })
            return DomainError.Conflict("The message you reply to was deleted.");
        var posted = new MessagePosted(command.MessageId, command.ClientMessageId, senderId, command.Text, command.Mentions,
            MessageText.Urls(command.Text), root?.ReplyTo ?? root?.Id, command.Attachments, command.Now, command.ForwardedFrom, command.Bot,
            MassMention(conversation, sender, command.Text));
        // Answering a message request accepts it, as in the chat apps people know: whoever replies has chosen to talk.
        return sender.Requested ? Decision.Of(new RequestAccepted(senderId, command.Now), posted) : Decision.Of(posted);
    }

    /// <summary>
    /// <c>@channel</c> (every member) or <c>@here</c> (members online now) when the sender may use them: any member of a
    /// group (at most a thousand people who chose to talk together), only owners and admins of a channel (where it would
    /// ring up to a hundred thousand phones); never in a direct conversation, where every message notifies anyway. Written
    /// by someone else it stays plain text: the message goes, nobody is called.
    /// </summary>
    public static string? MassMention(ConversationView conversation, Membership sender, string text) =>
        conversation.Kind switch
        {
            ConversationKind.Group => MessageText.MassMention(text),
            ConversationKind.Channel when sender.IsAdmin => MessageText.MassMention(text),
            _ => null,
        };

    /// <summary>The ids of the conversation's active members named as <c>@username</c> in the text.</summary>
    public static async Task<IReadOnlyList<Guid>> ResolveMentionsAsync(WriteContext context, string text, CancellationToken cancellationToken)
    {
        var usernames = MessageText.MentionedUsernames(text);
        if (usernames.Count == 0)
            return [];
        var users = await context.Session.Query<UserDirectoryEntry>().Where(u => u.Username.IsOneOf(usernames.ToArray())).ToListAsync(cancellationToken);
        var mentioned = new List<Guid>();
        foreach (var user in users)
            if (await context.Member(user.Id, cancellationToken) is { Active: true })
                mentioned.Add(user.Id);
        return mentioned;
    }

    public static void MapSendMessage(this RouteGroupBuilder group) =>
        group.MapPost("/{id:guid}/messages", Handle).WithName("SendMessage");

    private static async Task<Results<Created<MessageDto>, Accepted<CommandAccepted>, Accepted<EphemeralMessageDto>, ProblemHttpResult>> Handle(
        Guid id, SendMessageRequest request, HttpContext http, ConversationWriter writer,
        IOptions<MessagingOptions> options, IOptions<BotCommandOptions> commandOptions, CommandDispatcher commands, MassTransit.IBus bus,
        TimeProvider time, IDocumentSession session, CancellationToken cancellationToken)
    {
        var senderId = http.User.UserId();
        var bot = http.User.IsInRole(BotCommands.BotRole) ? new BotAuthor(BotAuthor.BotKind, http.User.Identity?.Name ?? "bot") : null;
        if (request.Ephemeral == true)
            return await EphemeralMessages.SendAsync(id, request, http, session, bus, options.Value, time, cancellationToken);
        // A slash command of a member bot is not posted: it goes to the bot, which answers through this same endpoint.
        if (request.ForwardedFrom is null && request.Text is { } commandText && commandText.StartsWith('/') && commandText.Length <= options.Value.MaxTextLength
            && await BotCommands.MatchAsync(session, id, MessageText.Normalize(commandText), cancellationToken) is var (command, arguments))
        {
            if (await session.MembershipAsync(id, senderId, cancellationToken) is not { Active: true } caller)
                return Http.Problem(DomainError.ConversationNotFound);
            var now = time.GetUtcNow();
            // A member timed out may not post, so may not have a bot post for them either.
            if (Moderation.Muted(caller, now) is { } muted)
                return Http.Problem(muted, http);
            var responseId = Guid.CreateVersion7(now);
            session.Store(new CommandInvocation
            {
                Id = responseId, ConversationId = id, BotId = command.BotId, CallerId = senderId, Name = command.Name,
                ExpiresAt = now + commandOptions.Value.ResponseLifetime,
            });
            await session.SaveChangesAsync(cancellationToken);
            if (!commands.Enqueue(new CommandDelivery(command, responseId, id, senderId, arguments, MessageText.Normalize(commandText), now)))
                return Http.Problem(new DomainError(StatusCodes.Status503ServiceUnavailable, "Busy", "Too many commands are waiting for their bots: try again shortly.")
                { RetryAfter = TimeSpan.FromSeconds(5) }, http);
            return TypedResults.Accepted((string?)null, new CommandAccepted(command.Name, command.BotId, responseId, id));
        }
        if (request.ForwardedFrom is { } forwarded)
        {
            // The forwarder must be able to read the origin now; the forward carries its content (text, and attachments
            // unless the request has its own), so readers see it whether or not they can open the origin.
            if (await ForwardableAsync(session, senderId, forwarded, cancellationToken) is not { } origin)
                return Http.Problem(DomainError.Invalid("forwardedFrom is not a message you can read (it does not exist, was deleted, or is in a conversation you are not in)."));
            request = request with
            {
                Text = string.IsNullOrWhiteSpace(request.Text) ? origin.Text : request.Text,
                Attachments = request.Attachments is { Length: > 0 } ? request.Attachments : origin.Attachments.ToArray(),
            };
        }
        if (Validate(request, options.Value, out var text) is { } invalid)
            return Http.Problem(invalid);
        var (error, message, committed) = await PostAsync(writer, id, senderId, request, text, time, cancellationToken, bot);
        if (error is not null)
            return Http.Problem(error, http);
        // The Gateway that forwarded the send pushes these to its own connections at once (the bus brings them too).
        if (http.Request.Headers.ContainsKey(SendAnswerEvents.RequestHeader) && SendAnswerEvents.Encode(committed) is { } events)
            http.Response.Headers[SendAnswerEvents.ResponseHeader] = events;
        return Created(message!);
    }

    /// <summary>
    /// The send path (validated request, normalised text): membership, bans, timeouts, slow mode and blocks are checked
    /// under the conversation's lock. The same client message id twice yields one message (the first one).
    /// Scheduled messages go out through here too. Also answers the events the send committed (none for a retry).
    /// </summary>
    public static async Task<(DomainError? Error, MessageView? Message, IReadOnlyList<ConversationEvent> Committed)> PostAsync(
        ConversationWriter writer, Guid id, Guid senderId, SendMessageRequest request, string text, TimeProvider time, CancellationToken cancellationToken,
        BotAuthor? bot = null)
    {
        var now = time.GetUtcNow();
        var key = ClientMessageKey.KeyOf(id, senderId, request.ClientMessageId!);
        MessageView? again = null;
        var messageId = Guid.CreateVersion7();
        // The sender's membership, the reply's root and the client message id's use come with the lock, in one round trip.
        var preload = new Preload([senderId], request.ReplyTo is { } rootId ? [rootId] : null, key);
        var result = await writer.WriteAsync(id, preload, async context =>
        {
            // Checked under the conversation's lock: a retry of a send that committed, or two identical requests at
            // once, yield one message.
            if (await context.ClientKey(key, cancellationToken) is { } existing)
            {
                again = await context.Message(existing.MessageId, cancellationToken);
                return Decision.Nothing;
            }
            var sender = await context.Member(senderId, cancellationToken);
            var root = request.ReplyTo is { } replyTo ? await context.Message(replyTo, cancellationToken) : null;
            if (sender is { Active: true } && context.Conversation.Kind == ConversationKind.Direct && await BlockedAsync(context, senderId, cancellationToken))
                return DomainError.Forbidden("A block stands between you and the other member: this conversation takes no messages.");
            var mentions = sender is { Active: true } ? await ResolveMentionsAsync(context, text, cancellationToken) : [];
            var decision = Decide(context.Conversation, sender, senderId, root, new Command(messageId, request.ClientMessageId!, text, mentions, request.ReplyTo,
                (request.Attachments ?? []).Distinct().ToList(), now, request.ForwardedFrom, bot));
            // Files Media has already processed come with the message, in the same write.
            if (decision.Error is null && decision.Events.OfType<MessagePosted>().SingleOrDefault() is { Attachments.Count: > 0 } posted)
            {
                var ready = await Attachments.DecideAsync(context, MessageView.Create(id, context.Conversation.LastSeq + 1, posted), now, cancellationToken);
                if (ready.Events.Count > 0)
                    decision = new Decision([.. decision.Events, .. ready.Events]);
            }
            return decision;
        }, cancellationToken);

        if (result.Error is not null)
            return (result.Error, null, []);
        if (again is not null)
            return (null, again, []);
        var message = (await result.Context!.Message(messageId, cancellationToken))!;
        // Media may have announced a file between that write's look and its commit: looked for again now, so one side sees both.
        if (message.AttachmentDetails.Count < message.Attachments.Count)
            await Attachments.FillAsync(writer, id, messageId, time, cancellationToken);
        return (null, message, result.Committed);
    }

    /// <summary>The origin of a forward, if the forwarder may read it: a member's (a former member's: from before leaving), not deleted.</summary>
    private static async Task<MessageView?> ForwardableAsync(IQuerySession session, Guid userId, ForwardReference origin, CancellationToken cancellationToken)
    {
        if (origin.ConversationId == Guid.Empty || origin.MessageId == Guid.Empty)
            return null;
        var message = await session.LoadAsync<MessageView>(origin.MessageId, cancellationToken);
        if (message is null || message.ConversationId != origin.ConversationId || message.Deleted)
            return null;
        var member = await session.MembershipAsync(origin.ConversationId, userId, cancellationToken);
        return member is not null && message.Seq <= member.VisibleUpTo(long.MaxValue) ? message : null;
    }

    /// <summary>
    /// Whether a block (either way) stands between the sender and the other member of this direct conversation: a direct
    /// conversation's id follows from its two members, so the sender's blocks name it. Usually no row at all.
    /// </summary>
    private static async Task<bool> BlockedAsync(WriteContext context, Guid senderId, CancellationToken cancellationToken)
    {
        var blocks = await context.Session.Query<UserBlock>()
            .Where(b => b.Active && (b.OwnerId == senderId || b.BlockedUserId == senderId))
            .Select(b => new { b.OwnerId, b.BlockedUserId })
            .ToListAsync(cancellationToken);
        return blocks.Any(b => ConversationRules.DirectConversationId(senderId, b.OwnerId == senderId ? b.BlockedUserId : b.OwnerId) == context.Conversation.Id);
    }

    private static Created<MessageDto> Created(MessageView message) =>
        TypedResults.Created($"/api/v1/conversations/{message.ConversationId}/messages/{message.Id}", MessageDtos.ToDto(message));
}
