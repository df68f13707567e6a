using Marten;
using Marten.Exceptions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

public sealed record CreateConversationRequest(string? Kind, string? Title, string? Topic, Guid[]? MemberIds, bool? IsPublic, int? RetentionDays);

public static class CreateConversation
{
    /// <summary>
    /// The creation event: for a direct conversation both members own it; otherwise the creator owns it
    /// and the others are members.
    /// </summary>
    public static (ConversationCreated? Created, DomainError? Error) Decide(
        Guid creator, CreateConversationRequest request, MessagingOptions options, DateTimeOffset now, Guid newId)
    {
        if (!ConversationRules.TryParseKind(request.Kind, out var kind))
            return (null, DomainError.Invalid("kind must be one of: direct, group, channel."));
        if (request.MemberIds is { Length: > Members.MaxAddedAtOnce })
            return (null, DomainError.Invalid($"memberIds names at most {Members.MaxAddedAtOnce} users; add more afterwards."));
        var others = (request.MemberIds ?? []).Where(id => id != creator).Distinct().ToList();
        if (others.Contains(Guid.Empty))
            return (null, DomainError.Invalid("memberIds holds an empty id."));
        var title = ConversationRules.CleanText(request.Title);
        var topic = ConversationRules.CleanText(request.Topic);
        if (ConversationRules.ValidateSettings(title, topic, request.RetentionDays, options) is { } invalid)
            return (null, invalid);
        var retention = request.RetentionDays is 0 ? null : request.RetentionDays;

        switch (kind)
        {
            case ConversationKind.Direct:
                if (others.Count != 1)
                    return (null, DomainError.Invalid("A direct conversation has exactly two members: memberIds names the other one."));
                if (!string.IsNullOrEmpty(title) || request.IsPublic == true)
                    return (null, DomainError.Invalid("A direct conversation has no title and is never public."));
                return (new ConversationCreated(
                    ConversationRules.DirectConversationId(creator, others[0]), kind, null, topic, false, retention,
                    [new InitialMember(creator, MemberRole.Owner), new InitialMember(others[0], MemberRole.Owner)], creator, now), null);
            case ConversationKind.Group when others.Count + 1 > options.MaxGroupMembers:
                return (null, DomainError.Invalid($"A group has at most {options.MaxGroupMembers} members."));
            case ConversationKind.Channel when string.IsNullOrEmpty(title):
                return (null, DomainError.Invalid("A channel needs a title."));
            case ConversationKind.Channel when others.Count + 1 > options.MaxChannelMembers:
                return (null, DomainError.Invalid($"A channel has at most {options.MaxChannelMembers} members."));
            case ConversationKind.Group when request.IsPublic == true:
                return (null, DomainError.Invalid("Only channels can be public."));
        }

        var members = new List<InitialMember> { new(creator, MemberRole.Owner) };
        members.AddRange(others.Select(id => new InitialMember(id, MemberRole.Member)));
        return (new ConversationCreated(newId, kind, string.IsNullOrEmpty(title) ? null : title, string.IsNullOrEmpty(topic) ? null : topic,
            kind == ConversationKind.Channel && request.IsPublic != false, retention, members, creator, now), null);
    }

    public static void MapCreateConversation(this RouteGroupBuilder group) =>
        group.MapPost("/", Handle).WithName("CreateConversation");

    private static async Task<Results<Created<ConversationDto>, Ok<ConversationDto>, ProblemHttpResult>> Handle(
        CreateConversationRequest request, HttpContext http, ConversationWriter writer, IQuerySession session, UserRelations relations,
        IOptions<MessagingOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = http.User.UserId();
        var (created, error) = Decide(userId, request, options.Value, time.GetUtcNow(), Guid.CreateVersion7());
        if (error is not null)
            return Http.Problem(error);
        // Every member must be a user, with no block between them and the creator, who may add them (Identity decides).
        var others = created!.Members.Select(m => m.UserId).Where(id => id != userId).ToList();
        var (refused, known) = await relations.CheckWithRelationsAsync(http, others, adding: created.Kind != ConversationKind.Direct, cancellationToken);
        if (refused is not null)
            return Http.Problem(refused);
        // A direct message from someone not in the recipient's contacts is a request the recipient accepts or declines.
        if (created.Kind == ConversationKind.Direct)
            created = created with { Members = created.Members.Select(m => m.UserId == userId ? m : m with { Requested = !known[m.UserId].Contact }).ToList() };

        if (created.Kind == ConversationKind.Direct && await session.LoadAsync<ConversationView>(created.ConversationId, cancellationToken) is { } existing)
        {
            if (await session.MembershipAsync(existing.Id, userId, cancellationToken) is { Active: true })
                return TypedResults.Ok(ConversationDto.From(existing, MemberRole.Owner));
            // The creator left (or declined) it before: opening it again brings them back; the other member's choice stands.
            var rejoined = await writer.WriteAsync(existing.Id, new Preload([userId]), async context =>
                await context.Member(userId, cancellationToken) is { Active: true }
                    ? Decision.Nothing
                    : Decision.Of(new MemberJoined(userId, MemberRole.Owner, userId, time.GetUtcNow())), cancellationToken);
            return rejoined.Error is not null ? Http.Problem(rejoined.Error) : TypedResults.Ok(ConversationDto.From(rejoined.Context!.Conversation, MemberRole.Owner));
        }
        try
        {
            var result = await writer.StartAsync(created, [], cancellationToken);
            return TypedResults.Created($"/api/v1/conversations/{created.ConversationId}", ConversationDto.From(result.Context!.Conversation, MemberRole.Owner));
        }
        catch (ExistingStreamIdCollisionException) when (created.Kind == ConversationKind.Direct)
        {
            // Both users created it at the same moment: the other request won; answer with its conversation.
            var winner = await session.LoadAsync<ConversationView>(created.ConversationId, cancellationToken);
            return TypedResults.Ok(ConversationDto.From(winner!, MemberRole.Owner));
        }
    }
}
