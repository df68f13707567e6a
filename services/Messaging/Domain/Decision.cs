using Microsoft.AspNetCore.Http;

namespace Platform.Messaging.Domain;

/// <summary>Why a command was refused; becomes a problem details response.</summary>
public sealed record DomainError(int Status, string Title, string Detail)
{
    /// <summary>For a 429 or 503: when the caller may try again (sent as <c>Retry-After</c>).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Also for conversations the caller is not a member of: their existence is not revealed.</summary>
    public static DomainError ConversationNotFound { get; } = new(StatusCodes.Status404NotFound, "Conversation not found", "There is no such conversation, or you are not a member of it.");

    public static DomainError MessageNotFound { get; } = new(StatusCodes.Status404NotFound, "Message not found", "There is no such message in this conversation.");

    public static DomainError Forbidden(string detail) => new(StatusCodes.Status403Forbidden, "Not allowed", detail);

    public static DomainError Conflict(string detail) => new(StatusCodes.Status409Conflict, "Conflict", detail);

    public static DomainError Invalid(string detail) => new(StatusCodes.Status400BadRequest, "Invalid request", detail);
}

/// <summary>The outcome of a pure decision: the events to append, or why nothing happens.</summary>
public sealed record Decision(IReadOnlyList<object> Events, DomainError? Error = null)
{
    public static Decision Of(params object[] events) => new(events);

    public static Decision Nothing { get; } = new([]);

    public static implicit operator Decision(DomainError error) => new([], error);
}
