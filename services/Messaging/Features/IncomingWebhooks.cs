using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record CreateIncomingWebhookRequest(string? Name);

/// <summary>Shown once, at creation: the URL carries the secret, which is stored only as a hash.</summary>
public sealed record CreatedIncomingWebhook(Guid Id, Guid ConversationId, string Name, string Url, Guid CreatedBy, DateTimeOffset CreatedAt);

public sealed record IncomingWebhookDto(Guid Id, Guid ConversationId, string Name, Guid CreatedBy, DateTimeOffset CreatedAt);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IncomingWebhookPost(string? Text);

public sealed record IncomingWebhookPosted(Guid Id, Guid ConversationId, long Seq);

/// <summary>An incoming webhook of a group or channel: its URL's secret, as a SHA-256 hash.</summary>
public sealed record IncomingWebhook
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public string Name { get; init; } = "";
    public string SecretHash { get; init; } = "";
    public Guid CreatedBy { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// Incoming webhooks: owners and admins of a group or channel make a secret URL; whoever holds it posts messages
/// (<c>{ text }</c>, no token) as the webhook's identity: the sender id is the webhook's id, the message is marked as a
/// bot's (<c>senderKind: webhook</c>, <c>senderName</c>). Deleting the webhook stops its URL at once.
/// </summary>
public static class IncomingWebhooks
{
    public const int MaxNameLength = 64;
    public const int MaxPerConversation = 20;
    public const string DefaultName = "Webhook";

    public static void MapIncomingWebhooks(this RouteGroupBuilder conversations)
    {
        conversations.MapPost("/{id:guid}/incoming-webhooks", Create).WithName("CreateIncomingWebhook");
        conversations.MapGet("/{id:guid}/incoming-webhooks", List).WithName("ListIncomingWebhooks");
        conversations.MapDelete("/{id:guid}/incoming-webhooks/{webhookId:guid}", Delete).WithName("DeleteIncomingWebhook");
    }

    /// <summary><c>POST /api/v1/incoming-webhooks/{id}/{secret}</c>: anonymous, the secret is the authorization.</summary>
    public static void MapIncomingWebhookPosts(this RouteGroupBuilder webhooks) =>
        webhooks.MapPost("/{webhookId:guid}/{secret}", Post).AllowAnonymous().WithName("PostToIncomingWebhook");

    public static string HashOf(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static async Task<(Membership? Member, ConversationView? Conversation, DomainError? Error)> AdminOfAsync(
        IQuerySession session, Guid id, Guid userId, CancellationToken cancellationToken)
    {
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { Active: true } member)
            return (null, null, DomainError.ConversationNotFound);
        var conversation = (await session.LoadAsync<ConversationView>(id, cancellationToken))!;
        if (conversation.Kind == ConversationKind.Direct)
            return (member, conversation, DomainError.Conflict("Direct conversations have no webhooks."));
        if (!member.IsAdmin)
            return (member, conversation, DomainError.Forbidden("Only owners and admins manage a conversation's webhooks."));
        return (member, conversation, null);
    }

    private static async Task<Results<Created<CreatedIncomingWebhook>, ProblemHttpResult>> Create(
        Guid id, CreateIncomingWebhookRequest? request, HttpContext http, IDocumentSession session, IOptions<AuthOptions> auth, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if ((await AdminOfAsync(session, id, userId, cancellationToken)).Error is { } refused)
            return Http.Problem(refused);
        var name = ConversationRules.CleanText(request?.Name)?.Trim();
        if (string.IsNullOrEmpty(name))
            name = DefaultName;
        if (name.Length > MaxNameLength)
            return Http.Invalid($"name is at most {MaxNameLength} characters.");
        if (await session.Query<IncomingWebhook>().CountAsync(w => w.ConversationId == id, cancellationToken) >= MaxPerConversation)
            return Http.Problem(DomainError.Conflict($"A conversation has at most {MaxPerConversation} incoming webhooks: delete one first."));

        var now = time.GetUtcNow();
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var webhook = new IncomingWebhook { Id = Guid.CreateVersion7(now), ConversationId = id, Name = name, SecretHash = HashOf(secret), CreatedBy = userId, CreatedAt = now };
        session.Store(webhook);
        await session.SaveChangesAsync(cancellationToken);
        var url = $"{auth.Value.Issuer.TrimEnd('/')}/api/v1/incoming-webhooks/{webhook.Id}/{secret}";
        return TypedResults.Created($"/api/v1/conversations/{id}/incoming-webhooks/{webhook.Id}",
            new CreatedIncomingWebhook(webhook.Id, id, name, url, userId, now));
    }

    private static async Task<Results<Ok<Page<IncomingWebhookDto>>, ProblemHttpResult>> List(
        Guid id, HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        if ((await AdminOfAsync(session, id, http.User.UserId(), cancellationToken)).Error is { } refused)
            return Http.Problem(refused);
        var webhooks = await session.Query<IncomingWebhook>().Where(w => w.ConversationId == id).OrderBy(w => w.CreatedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<IncomingWebhookDto>(webhooks.Select(w => new IncomingWebhookDto(w.Id, w.ConversationId, w.Name, w.CreatedBy, w.CreatedAt)).ToList(), null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        Guid id, Guid webhookId, HttpContext http, IDocumentSession session, CancellationToken cancellationToken)
    {
        if ((await AdminOfAsync(session, id, http.User.UserId(), cancellationToken)).Error is { } refused)
            return Http.Problem(refused);
        if (await session.LoadAsync<IncomingWebhook>(webhookId, cancellationToken) is not { } webhook || webhook.ConversationId != id)
            return Http.Problem(new DomainError(StatusCodes.Status404NotFound, "Webhook not found", "This conversation has no such incoming webhook."));
        session.Delete(webhook);
        await session.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<IncomingWebhookPosted>, ProblemHttpResult>> Post(
        Guid webhookId, string secret, IncomingWebhookPost? request, HttpContext http, IQuerySession session, ConversationWriter writer,
        IOptions<MessagingOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var unknown = new DomainError(StatusCodes.Status404NotFound, "Webhook not found", "There is no such incoming webhook (or it was deleted).");
        if (secret.Length > 100 || await session.LoadAsync<IncomingWebhook>(webhookId, cancellationToken) is not { } webhook
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(HashOf(secret)), Encoding.ASCII.GetBytes(webhook.SecretHash)))
            return Http.Problem(unknown);
        var text = MessageText.Normalize(request?.Text ?? "");
        if (text.Length == 0)
            return Http.Invalid("text is required.");
        if (text.Length > options.Value.MaxTextLength)
            return Http.Invalid($"The text is longer than {options.Value.MaxTextLength} characters.");

        var messageId = Guid.CreateVersion7();
        var result = await writer.WriteAsync(webhook.ConversationId, async context =>
        {
            // Checked again under the conversation's lock: a webhook deleted a moment ago posts nothing more.
            if (await context.Session.LoadAsync<IncomingWebhook>(webhookId, cancellationToken) is null)
                return unknown;
            var mentions = await SendMessage.ResolveMentionsAsync(context, text, cancellationToken);
            return Decision.Of(new MessagePosted(messageId, "webhook-" + messageId.ToString("N"), webhook.Id, text, mentions, MessageText.Urls(text),
                null, [], time.GetUtcNow(), null, new BotAuthor(BotAuthor.WebhookKind, webhook.Name)));
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error, http);
        return TypedResults.Created($"/api/v1/conversations/{webhook.ConversationId}/messages/{messageId}",
            new IncomingWebhookPosted(messageId, webhook.ConversationId, result.LastSeq));
    }
}
