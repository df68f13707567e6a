using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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

/// <summary>
/// A consumer definition whose endpoint receives only the conversation events of the given routing keys. When its
/// endpoint is ready, bindings that earlier versions made for it and that would still bring it more are removed: the
/// fanout's direct binding (before routing by type) and <see cref="RetiredRoutingKeys"/>. A broker keeps every binding
/// ever declared (MassTransit adds, never removes), so without this an upgraded broker went on delivering what a
/// subscriber no longer asks for.
/// </summary>
public abstract class ConversationEventSubscriber<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    /// <summary>The routing keys (topic patterns) this consumer's endpoint receives.</summary>
    protected abstract string[] RoutingKeys { get; }

    /// <summary>Routing keys this endpoint bound in an earlier version and no longer wants: unbound when it starts.</summary>
    protected virtual string[] RetiredRoutingKeys => [];

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        ConversationEventRouting.Subscribe(endpointConfigurator, RoutingKeys);
        RetiredBindings.RemoveWhenReady(endpointConfigurator, context,
            [(ConversationEventRouting.EventExchange, ""), .. RetiredRoutingKeys.Except(RoutingKeys).Select(key => (ConversationEventRouting.ByTypeExchange, key))]);
    }
}

/// <summary>
/// Removes bindings of an endpoint's exchange (MassTransit binds sources to an exchange named as the queue) once the
/// endpoint is ready, over a short connection of its own: MassTransit declares topology but never removes any. Removing
/// a binding that does not exist is a no-op for RabbitMQ, so this runs at every start; a failure is logged and tried
/// again when the endpoint is next ready (after a reconnection), and never stops the endpoint.
/// </summary>
public sealed class RetiredBindings : IReceiveEndpointObserver
{
    private readonly Bus.BrokerAddress _broker;
    private readonly IReadOnlyList<(string Source, string RoutingKey)> _bindings;
    private readonly ILogger _logger;
    private int _removed;

    private RetiredBindings(Bus.BrokerAddress broker, IReadOnlyList<(string Source, string RoutingKey)> bindings, ILogger logger)
    {
        _broker = broker;
        _bindings = bindings;
        _logger = logger;
    }

    /// <summary>Removes <paramref name="bindings"/> (source exchange, routing key) to the endpoint's exchange when it is ready.</summary>
    public static void RemoveWhenReady(IReceiveEndpointConfigurator endpoint, IServiceProvider services, IReadOnlyList<(string Source, string RoutingKey)> bindings)
    {
        if (endpoint is not IRabbitMqReceiveEndpointConfigurator || bindings.Count == 0)
            return;
        var broker = Bus.ParseAddress(services.GetRequiredService<IConfiguration>().GetConnectionString(Bus.ConnectionStringName));
        endpoint.ConnectReceiveEndpointObserver(new RetiredBindings(broker, bindings, services.GetRequiredService<ILoggerFactory>().CreateLogger<RetiredBindings>()));
    }

    public async Task Ready(ReceiveEndpointReady ready)
    {
        if (Volatile.Read(ref _removed) == 1)
            return;
        // rabbitmq://host:port/vhost/queue-name: the endpoint's exchange has the queue's name.
        var destination = Uri.UnescapeDataString(ready.InputAddress.Segments[^1]);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var factory = new ConnectionFactory
            {
                HostName = _broker.Host, Port = _broker.Port, VirtualHost = _broker.VirtualHost, UserName = _broker.Username, Password = _broker.Password,
                Ssl = new SslOption { Enabled = _broker.UseTls, ServerName = _broker.Host },
            };
            await using var connection = await factory.CreateConnectionAsync($"retired bindings of {destination}", timeout.Token);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
            foreach (var (source, key) in _bindings)
                await channel.ExchangeUnbindAsync(destination, source, key, cancellationToken: timeout.Token);
            await channel.CloseAsync(timeout.Token);
            Volatile.Write(ref _removed, 1);
            _logger.LogDebug("Retired bindings to {Destination} removed (if there were any): {Bindings}", destination, _bindings);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            _logger.LogWarning(exception, "Could not remove retired bindings to {Destination}; tried again when the endpoint is next ready", destination);
        }
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
