using System.Globalization;
using System.Text.Json;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;
using Platform.ServiceDefaults;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Builds what the hub sends as plain dictionaries, lists and scalars, so the JSON and MessagePack protocols
/// write the same names (<c>conversationId</c>, <c>seq</c>, ...) as the HTTP API.
/// </summary>
public static class HubEnvelopes
{
    /// <summary>The <c>event</c> payload: the client envelope (<see cref="EventEnvelope"/>), built where outgoing webhooks build their bodies too.</summary>
    public static Dictionary<string, object?> From(ConversationEvent e) => ConversationEventEnvelope.From(e);

    /// <summary>The <c>presence</c> payload: the same names as the items of <c>GET /api/v1/presence</c>.</summary>
    public static Dictionary<string, object?> From(PresenceChanged change) => new()
    {
        ["userId"] = change.UserId.ToString(),
        ["status"] = change.Status,
        ["availability"] = change.Availability,
        ["lastActiveAt"] = change.LastActiveAt?.ToString("O", CultureInfo.InvariantCulture),
        ["statusText"] = change.StatusText,
    };

    /// <summary>A log item from Messaging's <c>GET /events</c>: an <see cref="EventEnvelope"/>'s JSON, taken as it is.</summary>
    public static Dictionary<string, object?> FromLog(JsonElement item) => (Dictionary<string, object?>)ToPlain(item)!;

    public static object? ToPlain(JsonElement element) => ConversationEventEnvelope.ToPlain(element);
}
