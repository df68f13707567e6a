using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;

namespace Platform.Contracts.Messaging;

/// <summary>The <c>data</c> of one conversation event type; the type carries <see cref="ConversationEventTypeAttribute"/>.</summary>
public interface IConversationEventData;

/// <summary>The data of an event about one existing message (an edit, a delete, a reaction, a pin, ...).</summary>
public interface IMessageEventData : IConversationEventData
{
    Guid MessageId { get; }
}

/// <summary>
/// The wire name (<c>type</c>) and version of a conversation event's data record. A record's JSON only grows (optional
/// properties); a change that old readers cannot read is a new record with the next <see cref="Version"/>, published
/// as <see cref="ConversationEvent.DataVersion"/> beside the old one until every consumer reads it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ConversationEventTypeAttribute(string type) : Attribute
{
    public string Type { get; } = type;

    public int Version { get; init; } = 1;
}

/// <summary>Writes and reads <see cref="ConversationEvent.Data"/> as the typed records of <see cref="ConversationEventTypes"/>.</summary>
public static class ConversationEventData
{
    /// <summary>The JSON of the data on the bus, in the HTTP API and on the hub: camelCase names.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    private static readonly FrozenDictionary<Type, ConversationEventTypeAttribute> ByClrType = typeof(IConversationEventData).Assembly.GetTypes()
        .Where(t => t.IsClass && !t.IsAbstract && typeof(IConversationEventData).IsAssignableFrom(t))
        .ToFrozenDictionary(t => t, t => t.GetCustomAttribute<ConversationEventTypeAttribute>()
            ?? throw new InvalidOperationException($"{t.Name} implements {nameof(IConversationEventData)} without [{nameof(ConversationEventTypeAttribute)}]."));

    private static readonly FrozenDictionary<(string Type, int Version), Type> ByWireType =
        ByClrType.ToFrozenDictionary(pair => (pair.Value.Type, pair.Value.Version), pair => pair.Key);

    /// <summary>Every data record, with its wire name and version.</summary>
    public static IReadOnlyDictionary<Type, ConversationEventTypeAttribute> Types => ByClrType;

    /// <summary>The wire name and version of <paramref name="data"/>'s type.</summary>
    public static ConversationEventTypeAttribute TypeOf(IConversationEventData data) =>
        ByClrType.TryGetValue(data.GetType(), out var attribute)
            ? attribute
            : throw new ArgumentException($"{data.GetType().Name} is not a conversation event's data.", nameof(data));

    public static JsonElement Serialize(IConversationEventData data) => JsonSerializer.SerializeToElement(data, data.GetType(), Json);

    /// <summary>
    /// The event's data as its record, or null for a type or version this build does not know (a newer producer):
    /// consumers skip what they do not know.
    /// </summary>
    public static IConversationEventData? Read(this ConversationEvent e) =>
        ByWireType.TryGetValue((e.Type, e.DataVersion ?? 1), out var type) ? (IConversationEventData?)e.Data.Deserialize(type, Json) : null;

    /// <summary>
    /// Whether the event is of <typeparamref name="T"/>'s type (and version), and then its data. Deserializes only that
    /// type: cheap to ask of every event on a hot path.
    /// </summary>
    public static bool TryRead<T>(this ConversationEvent e, [NotNullWhen(true)] out T? data) where T : class, IConversationEventData
    {
        data = e.Is<T>() ? e.Data.Deserialize<T>(Json) : null;
        return data is not null;
    }

    /// <summary>Whether the event is of <typeparamref name="T"/>'s type and version (nothing is deserialized).</summary>
    public static bool Is<T>(this ConversationEvent e) where T : class, IConversationEventData =>
        e.Type == Of<T>.Attribute.Type && (e.DataVersion ?? 1) == Of<T>.Attribute.Version;

    /// <summary>The wire name of <typeparamref name="T"/>.</summary>
    public static string TypeName<T>() where T : class, IConversationEventData => Of<T>.Attribute.Type;

    /// <summary>The event's data as <typeparamref name="T"/>; throws when the event is of another type.</summary>
    public static T Read<T>(this ConversationEvent e) where T : class, IConversationEventData =>
        e.TryRead<T>(out var data) ? data : throw new InvalidOperationException($"Event {e.ConversationId}/{e.Seq} is {e.Type}, not {typeof(T).Name}.");

    private static class Of<T> where T : class, IConversationEventData
    {
        public static readonly ConversationEventTypeAttribute Attribute = ByClrType[typeof(T)];
    }
}
