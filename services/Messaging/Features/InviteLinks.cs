using System.Security.Cryptography;
using System.Text;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record CreateInviteLinkRequest(DateTimeOffset? ExpiresAt, int? MaxUses = null);

public sealed record InviteLinkDto(string Token, string Url, DateTimeOffset ExpiresAt, Guid ConversationId, string Id, int? MaxUses = null);

/// <summary>A live invite link as owners and admins list it: its <see cref="Id"/> (the token's SHA-256), never the token.</summary>
public sealed record InviteLinkInfo(string Id, Guid ConversationId, Guid CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, int? MaxUses = null, int Uses = 0);

public sealed record InvitePreviewDto(Guid ConversationId, ConversationKind Kind, string? Title, string? Topic, int MemberCount, DateTimeOffset ExpiresAt);

/// <summary>
/// Invite links: an owner or admin of a group or channel makes a link; anyone signed in who has it sees what it leads to
/// and joins as a member, until it expires or its creator is no longer an owner or admin there. Only the token's
/// SHA-256 is stored, so the database does not hold working links.
/// </summary>
public static class InviteLinks
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);
    public const int MaxUsesLimit = 100_000;

    public static void MapCreateInviteLink(this RouteGroupBuilder conversations)
    {
        conversations.MapPost("/{id:guid}/invite-links", Create).WithName("CreateInviteLink");
        conversations.MapGet("/{id:guid}/invite-links", List).WithName("ListInviteLinks");
        conversations.MapDelete("/{id:guid}/invite-links/{linkId}", Revoke).WithName("RevokeInviteLink");
    }

    public static void MapInviteLinks(this RouteGroupBuilder group)
    {
        group.MapGet("/{token}", Preview).WithName("PreviewInviteLink");
        group.MapPost("/{token}/join", Join).WithName("JoinByInviteLink");
    }

    public static string KeyOf(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static async Task<Results<Created<InviteLinkDto>, ProblemHttpResult>> Create(
        Guid id, CreateInviteLinkRequest? request, HttpContext http, IDocumentSession session, IOptions<AuthOptions> auth, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await session.MembershipAsync(id, userId, cancellationToken) is not { Active: true } member)
            return Http.Problem(DomainError.ConversationNotFound);
        var conversation = (await session.LoadAsync<ConversationView>(id, cancellationToken))!;
        if (conversation.Kind == ConversationKind.Direct)
            return Http.Problem(DomainError.Conflict("A direct conversation's members cannot change."));
        if (!member.IsAdmin)
            return Http.Problem(DomainError.Forbidden("Only owners and admins make invite links."));
        var now = time.GetUtcNow();
        var expiresAt = request?.ExpiresAt ?? now + DefaultLifetime;
        if (expiresAt <= now || expiresAt > now + MaxLifetime)
            return Http.Invalid($"expiresAt must be in the future and at most {MaxLifetime.TotalDays:0} days away.");

        if (request?.MaxUses is < 1 or > MaxUsesLimit)
            return Http.Invalid($"maxUses, when given, is from 1 to {MaxUsesLimit}.");

        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        session.Store(new InviteLink { Id = KeyOf(token), ConversationId = id, CreatedBy = userId, CreatedAt = now, ExpiresAt = expiresAt, MaxUses = request?.MaxUses });
        await session.SaveChangesAsync(cancellationToken);
        // The link people share opens the web app's join page (served by the Gateway at the issuer's URL); the API resource
        // it reads and joins through is /api/v1/invite-links/{token}.
        var url = $"{auth.Value.Issuer.TrimEnd('/')}/join/{token}";
        return TypedResults.Created($"{auth.Value.Issuer.TrimEnd('/')}/api/v1/invite-links/{token}", new InviteLinkDto(token, url, expiresAt, id, KeyOf(token), request?.MaxUses));
    }

    /// <summary>The conversation's unexpired invite links (used up ones too, with their counts), newest first, for its owners and admins (tokens are not stored: ids only).</summary>
    private static async Task<Results<Ok<Page<InviteLinkInfo>>, ProblemHttpResult>> List(
        Guid id, HttpContext http, IQuerySession session, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await AdminAsync(session, id, http.User.UserId(), cancellationToken) is { } refused)
            return Http.Problem(refused);
        var now = time.GetUtcNow();
        var links = await session.Query<InviteLink>().Where(l => l.ConversationId == id && l.ExpiresAt > now)
            .OrderByDescending(l => l.CreatedAt).Take(200).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Page<InviteLinkInfo>(links.Select(l => new InviteLinkInfo(l.Id, l.ConversationId, l.CreatedBy, l.CreatedAt, l.ExpiresAt, l.MaxUses, l.Uses)).ToList(), null));
    }

    /// <summary>Revokes a link at once (by its id): nobody joins with it any more. 404 for a link of another conversation or none.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(
        Guid id, string linkId, HttpContext http, IQuerySession session, ConversationWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await AdminAsync(session, id, http.User.UserId(), cancellationToken) is { } refused)
            return Http.Problem(refused);
        if (linkId.Length != 64)
            return Http.Problem(LinkNotFound);
        // Under the conversation's lock, like the joins that count its uses: a join in progress cannot bring it back.
        var result = await writer.WriteAsync(id, async context =>
        {
            var now = time.GetUtcNow();
            if (await context.InviteLink(linkId.ToUpperInvariant(), cancellationToken) is not { } link || link.ConversationId != id || link.ExpiresAt <= now)
                return LinkNotFound;
            context.Set(link with { ExpiresAt = now });
            return Decision.Nothing;
        }, cancellationToken);
        return result.Error is null ? TypedResults.NoContent() : Http.Problem(result.Error);
    }

    /// <summary>Null when the user is an active owner or admin of the conversation; else why not (a non-member learns nothing).</summary>
    private static async Task<DomainError?> AdminAsync(IQuerySession session, Guid conversationId, Guid userId, CancellationToken cancellationToken) =>
        await session.MembershipAsync(conversationId, userId, cancellationToken) switch
        {
            not { Active: true } => DomainError.ConversationNotFound,
            { IsAdmin: false } => DomainError.Forbidden("Only owners and admins manage invite links."),
            _ => null,
        };

    private static async Task<InviteLink?> ValidAsync(IQuerySession session, string token, DateTimeOffset now, CancellationToken cancellationToken) =>
        token.Length is > 0 and <= 100 && await session.LoadAsync<InviteLink>(KeyOf(token), cancellationToken) is { } link && Usable(link, now) ? link : null;

    private static bool Usable(InviteLink link, DateTimeOffset now) => link.ExpiresAt > now && !link.UsedUp;

    private static readonly DomainError LinkNotFound = new(StatusCodes.Status404NotFound, "Invite link not found", "There is no such invite link, or it expired, or it was used as many times as it allows.");

    /// <summary>What the link leads to, for anyone signed in who has it.</summary>
    private static async Task<Results<Ok<InvitePreviewDto>, ProblemHttpResult>> Preview(
        string token, IQuerySession session, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await ValidAsync(session, token, time.GetUtcNow(), cancellationToken) is not { } link
            || await session.LoadAsync<ConversationView>(link.ConversationId, cancellationToken) is not { } conversation
            || await session.MembershipAsync(link.ConversationId, link.CreatedBy, cancellationToken) is not { IsAdmin: true })
            return Http.Problem(LinkNotFound);
        return TypedResults.Ok(new InvitePreviewDto(conversation.Id, conversation.Kind, conversation.Title, conversation.Topic, conversation.MemberCount, link.ExpiresAt));
    }

    /// <summary>Joins as a member, added by the link's creator (who must still be an owner or admin); a member already is answered the conversation.</summary>
    private static async Task<Results<Ok<ConversationDto>, ProblemHttpResult>> Join(
        string token, HttpContext http, IQuerySession session, ConversationWriter writer, IOptions<MessagingOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        if (await ValidAsync(session, token, time.GetUtcNow(), cancellationToken) is not { } link)
            return Http.Problem(LinkNotFound);
        var result = await writer.WriteAsync(link.ConversationId, new Preload([userId, link.CreatedBy]), async context =>
        {
            var creator = await context.Member(link.CreatedBy, cancellationToken);
            if (creator is not { IsAdmin: true })
                return LinkNotFound;
            var current = await context.Member(userId, cancellationToken);
            if (current is { Active: true })
                return Decision.Nothing;
            var now = time.GetUtcNow();
            // Read again under the conversation's lock (every join with this link takes it, in any instance), so that
            // concurrent joins count exactly: the last use is taken by one of them, the others find the link used up.
            if (await context.InviteLink(link.Id, cancellationToken) is not { } fresh || !Usable(fresh, now))
                return LinkNotFound;
            var ban = await context.Session.LoadAsync<ConversationBan>(ConversationBan.KeyOf(link.ConversationId, userId), cancellationToken);
            if (ban is not null && ban.InForce(now))
                return DomainError.Forbidden("You are banned from this conversation.");
            var decision = Members.DecideAdd(context.Conversation, creator, link.CreatedBy, [(userId, current)], MemberRole.Member, options.Value, now);
            if (decision.Error is null && decision.Events.Count > 0)
                context.Set(fresh with { Uses = fresh.Uses + 1 });
            return decision;
        }, cancellationToken);
        if (result.Error is not null)
            return Http.Problem(result.Error);
        var member = (await result.Context!.Member(userId, cancellationToken))!;
        return TypedResults.Ok(ConversationDto.From(result.Context.Conversation, member.Role));
    }
}
