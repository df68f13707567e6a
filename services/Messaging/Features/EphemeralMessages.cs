using Marten;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>A bot's answer for one member: the message shape without a seq, plus who it is for.</summary>
public sealed record EphemeralMessageDto(
    Guid Id, Guid ConversationId, Guid SenderId, string Text, IReadOnlyList<string> Urls, DateTimeOffset CreatedAt,
    bool SenderIsBot, string SenderKind, string? SenderName, bool Ephemeral, Guid EphemeralTo, Guid? ResponseId);

/// <summary>
/// <c>POST /conversations/{id}/messages</c> with <c>ephemeral: true</c>: a bot answers one member (a slash command's
/// caller, by <c>responseId</c>, or <c>ephemeralTo</c>). Nothing is appended to the log or stored; Messaging publishes
/// <see cref="EphemeralMessage"/> and the Gateways push it to that member's own connections only (hub method
/// <c>ephemeral</c>), like a receipt meant for the reader's own devices. Not delivered if the member is offline.
/// </summary>
public static class EphemeralMessages
{
    public static async Task<Results<Created<MessageDto>, Accepted<CommandAccepted>, Accepted<EphemeralMessageDto>, ProblemHttpResult>> SendAsync(
        Guid id, SendMessageRequest request, HttpContext http, IQuerySession session, IBus bus, MessagingOptions options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var senderId = http.User.UserId();
        if (!http.User.IsInRole(BotCommands.BotRole))
            return Http.Problem(DomainError.Forbidden("Only bots send ephemeral messages."));
        if (await session.MembershipAsync(id, senderId, cancellationToken) is not { Active: true })
            return Http.Problem(DomainError.ConversationNotFound);
        var text = MessageText.Normalize(request.Text ?? "");
        if (text.Length == 0)
            return Http.Invalid("An ephemeral message needs text.");
        if (text.Length > options.MaxTextLength)
            return Http.Invalid($"The text is longer than {options.MaxTextLength} characters.");
        if (request.Attachments is { Length: > 0 } || request.ReplyTo is not null || request.ForwardedFrom is not null)
            return Http.Invalid("An ephemeral message has text only: no attachments, replyTo or forwardedFrom.");

        Guid recipient;
        if (request.ResponseId is { } responseId)
        {
            var invocation = await session.LoadAsync<CommandInvocation>(responseId, cancellationToken);
            if (invocation is null || invocation.ConversationId != id || invocation.BotId != senderId || invocation.ExpiresAt < time.GetUtcNow())
                return Http.Invalid("responseId is not a recent command sent to you in this conversation.");
            if (request.EphemeralTo is { } named && named != invocation.CallerId)
                return Http.Invalid("ephemeralTo and responseId name different users.");
            recipient = invocation.CallerId;
        }
        else if (request.EphemeralTo is { } to)
            recipient = to;
        else
            return Http.Invalid("An ephemeral message needs ephemeralTo (a member's user id) or responseId (from the command).");
        if (await session.MembershipAsync(id, recipient, cancellationToken) is not { Active: true })
            return Http.Invalid("ephemeralTo is not a member of this conversation.");

        var now = time.GetUtcNow();
        var message = new EphemeralMessageDto(Guid.CreateVersion7(now), id, senderId, text, MessageText.Urls(text), now, true, BotAuthor.BotKind,
            http.User.Identity?.Name, true, recipient, request.ResponseId);
        // Not stored anywhere: with the broker away the bot gets a 503 and may send it again.
        await bus.PublishWithinAsync(new EphemeralMessage
        {
            ConversationId = id,
            UserId = recipient,
            Message = System.Text.Json.JsonSerializer.SerializeToElement(message, System.Text.Json.JsonSerializerOptions.Web),
            SentAt = now,
        }, cancellationToken);
        return TypedResults.Accepted((string?)null, message);
    }
}
