using System.Globalization;
using System.Text.Json;
using Platform.Contracts.Messaging;
using Platform.Contracts.Presence;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Builds what the hub sends as plain dictionaries, lists and scalars, so the JSON and MessagePack protocols
/// write the same names (<c>conversationId</c>, <c>seq</c>, ...) as the HTTP API.
/// </summary>
public static class HubEnvelopes
{
    /// <summary>The client envelope (<see cref="EventEnvelope"/>, built in Platform.Contracts) of a bus event.</summary>
    public static Dictionary<string, object?> From(ConversationEvent e) => From(EventEnvelope.From(e));

    /// <summary>The client envelope as plain values; the names are <see cref="EventEnvelope"/>'s JSON names.</summary>
    public static Dictionary<string, object?> From(EventEnvelope e) => new()
    {
        ["conversationId"] = e.ConversationId.ToString(),
        ["seq"] = e.Seq,
        ["type"] = e.Type,
        ["occurredAt"] = e.OccurredAt.ToString("O", CultureInfo.InvariantCulture),
        ["actorId"] = e.ActorId.ToString(),
        ["data"] = ToPlain(e.Data),
    };

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

    public static object? ToPlain(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => ToPlain(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Select(ToPlain).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var integer) ? integer : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
