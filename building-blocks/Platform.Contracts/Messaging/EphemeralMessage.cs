using System.Text.Json;

namespace Platform.Contracts.Messaging;

/// <summary>
/// A bot's answer meant for one member only (a slash command's caller): not in the log, never stored; the Gateways push
/// it (hub method <c>ephemeral</c>) to that user's own connections, and nobody else's.
/// </summary>
public sealed record EphemeralMessage
{
    public required Guid ConversationId { get; init; }

    /// <summary>The only user whose connections receive it.</summary>
    public required Guid UserId { get; init; }

    /// <summary>The message, in the message shape plus <c>ephemeral: true</c> (and <c>responseId</c> when it answers a command).</summary>
    public required JsonElement Message { get; init; }

    public required DateTimeOffset SentAt { get; init; }
}
