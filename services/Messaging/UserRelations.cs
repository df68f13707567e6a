using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Messaging.Domain;

namespace Platform.Messaging;

/// <summary>How the acting user stands with another (Identity's answer; see Identity's <c>Features/Relations.cs</c>).</summary>
public sealed record UserRelation(Guid UserId, bool Exists, bool Blocked, bool Contact, bool AllowsAdd);

/// <summary>
/// Identity's <c>POST /internal/v1/relations</c>, asked with the acting user's own token: whether users exist, whether a
/// block stands between them and the caller, whether they count the caller as a contact, and whether they let the caller
/// add them. Messaging asks it whenever a conversation is opened, members are added or a call rings, never on sends.
/// Identity's address is <c>Auth:MetadataAddress</c>, where every service already finds Identity's keys.
/// </summary>
public sealed class UserRelations(HttpClient http)
{
    private sealed record Answer(List<UserRelation> Items);

    /// <summary>Each of <paramref name="userIds"/>' relation to the caller, or null when Identity no longer knows the caller (disabled).</summary>
    public async Task<IReadOnlyDictionary<Guid, UserRelation>?> GetAsync(HttpContext caller, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0)
            return new Dictionary<Guid, UserRelation>();
        using var request = new HttpRequestMessage(HttpMethod.Post, "internal/v1/relations") { Content = JsonContent.Create(new { userIds }) };
        if (AuthenticationHeaderValue.TryParse(caller.Request.Headers.Authorization, out var bearer))
            request.Headers.Authorization = bearer;
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.NotFound)
            return null;
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<Answer>(JsonSerializerOptions.Web, cancellationToken);
        return (answer?.Items ?? []).ToDictionary(r => r.UserId);
    }

    /// <summary>
    /// Why the caller may not bring <paramref name="userIds"/> into a conversation, if they may not: ids that are not
    /// users (400), a block either way (403), or, when <paramref name="adding"/>, a user who lets only contacts add them (403).
    /// </summary>
    public async Task<DomainError?> CheckAsync(HttpContext caller, IReadOnlyCollection<Guid> userIds, bool adding, CancellationToken cancellationToken) =>
        (await CheckWithRelationsAsync(caller, userIds, adding, cancellationToken)).Error;

    /// <summary>As <see cref="CheckAsync"/>, with the relations when nothing is refused.</summary>
    public async Task<(DomainError? Error, IReadOnlyDictionary<Guid, UserRelation> Relations)> CheckWithRelationsAsync(
        HttpContext caller, IReadOnlyCollection<Guid> userIds, bool adding, CancellationToken cancellationToken)
    {
        var relations = await GetAsync(caller, userIds, cancellationToken);
        return (relations is null ? DomainError.Forbidden("Your account cannot do this.") : Refusal(relations, userIds, adding), relations ?? new Dictionary<Guid, UserRelation>());
    }

    private static DomainError? Refusal(IReadOnlyDictionary<Guid, UserRelation> relations, IReadOnlyCollection<Guid> userIds, bool adding)
    {
        var unknown = userIds.Where(id => !relations.TryGetValue(id, out var r) || !r.Exists).ToList();
        if (unknown.Count > 0)
            return new DomainError(StatusCodes.Status400BadRequest, "Unknown users",
                $"These ids are not users: {string.Join(", ", unknown.Take(10))}{(unknown.Count > 10 ? ", ..." : "")}.");
        if (userIds.Any(id => relations[id].Blocked))
            return DomainError.Forbidden(userIds.Count == 1
                ? "A block stands between you and this user."
                : "A block stands between you and a user you named.");
        if (adding && userIds.Any(id => !relations[id].AllowsAdd))
            return DomainError.Forbidden(userIds.Count == 1
                ? "This user lets only their contacts add them to groups."
                : "A user you named lets only their contacts add them to groups.");
        return null;
    }
}
