using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>What every endpoint of the conversation API shares: who is calling and how refusals look.</summary>
public static class Http
{
    public static ProblemHttpResult Problem(DomainError error) => TypedResults.Problem(error.Detail, statusCode: error.Status, title: error.Title);

    /// <summary>The error as problem details, with <c>Retry-After</c> when it says when to come back.</summary>
    public static ProblemHttpResult Problem(DomainError error, HttpContext http)
    {
        if (error.RetryAfter is { } wait)
            Platform.ServiceDefaults.RetryAfter.Set(http.Response, wait);
        return Problem(error);
    }

    public static ProblemHttpResult Invalid(string detail) => Problem(DomainError.Invalid(detail));

    /// <summary>The caller's membership, active or former; null when they never belonged (answer 404).</summary>
    public static Task<Membership?> MembershipAsync(this IQuerySession session, Guid conversationId, Guid userId, CancellationToken cancellationToken) =>
        session.LoadAsync<Membership>(Membership.KeyOf(conversationId, userId), cancellationToken);

    public static int PageSize(int? limit, MessagingOptions options) => Math.Clamp(limit ?? options.DefaultPageSize, 1, options.MaxPageSize);
}

public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);
