using System.Text.Json;
using MassTransit;
using Platform.Contracts.Messaging;
using RabbitMQ.Client;

namespace Platform.ServiceDefaults;

/// <summary>
/// Conversation events routed by type, for the consumers that need only some of them. Every <see cref="ConversationEvent"/>
/// is published with a routing key: its type (<c>message.posted</c>), and <c>.rich</c> after a posted or edited message
/// that carries attachments or links (<c>message.posted.rich</c>). The event's own exchange stays a fanout, so consumers
/// that need every event (the Gateways, Notifications) bind it as MassTransit does by default; a consumer that
/// <see cref="Subscribe"/>s binds, instead, a topic exchange (<see cref="ByTypeExchange"/>) fed by that fanout, with the
/// keys it names, and the broker gives it nothing else (a plain message costs it no delivery and no consume).
/// </summary>
public static class ConversationEventRouting
{
    /// <summary>The topic exchange, bound to the event's fanout exchange, that a subscribing consumer binds by key.</summary>
    public const string ByTypeExchange = "platform.conversation-events.by-type";

    /// <summary>The fanout exchange MassTransit publishes <see cref="ConversationEvent"/> to (its entity name).</summary>
    public static readonly string EventExchange = $"{typeof(ConversationEvent).Namespace}:{nameof(ConversationEvent)}";

    public const string RichSuffix = ".rich";

    /// <summary>The routing key of an event: its type, plus <see cref="RichSuffix"/> for a message with attachments or links.</summary>
    public static string KeyOf(ConversationEvent e) =>
        e.Type is ConversationEventTypes.MessagePosted or ConversationEventTypes.MessageEdited && IsRich(e.Data) ? e.Type + RichSuffix : e.Type;

    private static bool IsRich(JsonElement data) =>
        data.ValueKind == JsonValueKind.Object && (NonEmpty(data, "attachments") || NonEmpty(data, "urls"));

    private static bool NonEmpty(JsonElement data, string name) =>
        data.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0;

    /// <summary>Publishes every <see cref="ConversationEvent"/> with its routing key (every bus: Messaging, tests' probes).</summary>
    internal static void ConfigurePublish(IRabbitMqBusFactoryConfigurator rabbit) =>
        rabbit.Send<ConversationEvent>(send => send.UseRoutingKeyFormatter(context => KeyOf(context.Message)));

    /// <summary>
    /// Makes <paramref name="endpoint"/> receive only the conversation events whose routing key matches one of
    /// <paramref name="keys"/> (topic patterns: <c>message.posted.#</c> is a posted message, rich or not).
    /// </summary>
    public static void Subscribe(IReceiveEndpointConfigurator endpoint, params string[] keys)
    {
        if (endpoint is not IRabbitMqReceiveEndpointConfigurator rabbit)
            return;
        endpoint.ConfigureMessageTopology<ConversationEvent>(false);
        foreach (var key in keys)
            rabbit.Bind(ByTypeExchange, byType =>
            {
                byType.ExchangeType = ExchangeType.Topic;
                byType.RoutingKey = key;
                // The topic exchange is fed by the event's fanout exchange (declared as MassTransit declares it).
                byType.Bind(EventExchange, fanout => fanout.ExchangeType = ExchangeType.Fanout);
            });
    }
}

/// <summary>A consumer definition whose endpoint receives only the conversation events of the given routing keys.</summary>
public abstract class ConversationEventSubscriber<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    /// <summary>The routing keys (topic patterns) this consumer's endpoint receives.</summary>
    protected abstract string[] RoutingKeys { get; }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context) =>
        ConversationEventRouting.Subscribe(endpointConfigurator, RoutingKeys);
}
