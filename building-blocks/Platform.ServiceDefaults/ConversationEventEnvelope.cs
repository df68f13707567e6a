using System.Globalization;
using System.Text.Json;
using Platform.Contracts.Messaging;

namespace Platform.ServiceDefaults;

/// <summary>
/// The envelope clients receive for a conversation event, <c>{conversationId, seq, type, occurredAt, actorId, data}</c>,
/// as plain dictionaries, lists and scalars: the Gateway's hub sends it (JSON and MessagePack write the same names as
/// the HTTP API), and outgoing webhooks post it as their body. The shape is <see cref="EventEnvelope"/> (Platform.Contracts);
/// this is its plain form, built here only.
/// </summary>
public static class ConversationEventEnvelope
{
    public static Dictionary<string, object?> From(ConversationEvent e) => From(EventEnvelope.From(e));

    public static Dictionary<string, object?> From(EventEnvelope e) => new()
    {
        ["conversationId"] = e.ConversationId.ToString(),
        ["seq"] = e.Seq,
        ["type"] = e.Type,
        ["occurredAt"] = e.OccurredAt.ToString("O", CultureInfo.InvariantCulture),
        ["actorId"] = e.ActorId.ToString(),
        ["data"] = ToPlain(e.Data),
    };

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
