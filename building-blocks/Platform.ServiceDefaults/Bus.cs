using System.ComponentModel.DataAnnotations;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Platform.ServiceDefaults;

/// <summary>Retry policy applied to every receive endpoint, bound from the <c>Bus</c> section.</summary>
public sealed class BusOptions
{
    public const string Section = "Bus";

    [Range(0, 20)]
    public int RetryLimit { get; set; } = 5;

    [Range(1, 60_000)]
    public int RetryMinIntervalMs { get; set; } = 100;

    [Range(1, 600_000)]
    public int RetryMaxIntervalMs { get; set; } = 10_000;

    /// <summary>The longest wait between tries while a dependency (PostgreSQL, the broker) is down; tries go on until it is back.</summary>
    [Range(1, 600_000)]
    public int OutageRetryMaxIntervalMs { get; set; } = 15_000;

    [Range(1, 10_000)]
    public int PrefetchCount { get; set; } = 16;

    /// <summary>
    /// The service that owns this host's queues, the first word of every queue name (<c>media-conversation-event</c>).
    /// Defaults to the application's name (<c>Media</c> becomes <c>media</c>); replicas of one service share it, and so
    /// their queues.
    /// </summary>
    [RegularExpression("^[a-z][a-z0-9-]*$")]
    public string? ServiceName { get; set; }
}

public static class Bus
{
    public const string ConnectionStringName = "RabbitMq";

    /// <summary>
    /// MassTransit over RabbitMQ from <c>ConnectionStrings:RabbitMq</c> (an <c>amqp://user:pass@host:port/vhost</c> URI),
    /// kebab-case endpoint names and the one retry policy. <paramref name="configure"/> adds the host's consumers.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformBus(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? configure = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
    {
        builder.Services.AddOptions<BusOptions>()
            .BindConfiguration(BusOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddOptions<MassTransitHostOptions>().Configure(options =>
        {
            // The host starts while the broker is down and readiness reports it; MassTransit keeps reconnecting.
            options.WaitUntilStarted = false;
            options.StopTimeout = TimeSpan.FromSeconds(15);
        });

        var service = QueueOwner(builder);
        builder.Services.AddMassTransit(bus =>
        {
            // Queues belong to one service: two services consuming one queue would each get only part of its messages.
            bus.SetEndpointNameFormatter(new KebabCaseEndpointNameFormatter(service + "-", includeNamespace: false));
            bus.ConfigureHealthCheckOptions(health =>
            {
                health.Name = "rabbitmq";
                // Reported, but never a reason to take the host out of its Service: while the broker is away, requests
                // still commit (events wait in the outbox) and consumers catch up after; an unready Gateway would drop
                // every client instead.
                health.MinimalFailureStatus = HealthStatus.Degraded;
                health.Tags.Clear();
                health.Tags.Add(HealthEndpoints.ReadyTag);
            });

            bus.AddConfigureEndpointsCallback((context, name, endpoint) =>
            {
                CheckQueueOwner(service, name);
                var options = context.GetRequiredService<IOptions<BusOptions>>().Value;
                // A store or broker that is down is waited out, never a reason to give up on a message: the consumer
                // keeps it (unacknowledged, so a crash hands it back to the queue) and tries again with backoff up to
                // OutageRetryMaxIntervalMs, and since every concurrent slot is busy waiting, the endpoint takes no more
                // messages meanwhile: it pauses until the store answers.
                endpoint.UseMessageRetry(retry =>
                {
                    retry.Handle<Exception>(ExceptionStatusCodes.IsDependencyOutage);
                    retry.Exponential(int.MaxValue,
                        TimeSpan.FromMilliseconds(options.RetryMinIntervalMs),
                        TimeSpan.FromMilliseconds(options.OutageRetryMaxIntervalMs),
                        TimeSpan.FromMilliseconds(options.RetryMinIntervalMs));
                });
                // Anything else (a bug, a message this version cannot handle) is retried a few times, then parked in the
                // endpoint's _error queue, counted (platform.bus.parked) and replayable (scripts/bus.sh replay).
                endpoint.UseMessageRetry(retry =>
                {
                    retry.Ignore<Exception>(ExceptionStatusCodes.IsDependencyOutage);
                    retry.Exponential(
                        options.RetryLimit,
                        TimeSpan.FromMilliseconds(options.RetryMinIntervalMs),
                        TimeSpan.FromMilliseconds(options.RetryMaxIntervalMs),
                        TimeSpan.FromMilliseconds(options.RetryMinIntervalMs));
                });
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    rabbit.PrefetchCount = options.PrefetchCount;
            });

            // Every instance of every service hears of revoked sessions on a queue of its own, and refuses those tokens.
            bus.TryAddSingleton<TokenRevocations>();
            var instance = $"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(40, Environment.MachineName.Length + 33)].ToLowerInvariant();
            bus.AddConsumer<TokenRevocationConsumer>().Endpoint(endpoint =>
            {
                endpoint.InstanceId = instance;
                endpoint.Temporary = true;
            });

            bus.AddSingleton<ParkedMessages>();
            bus.AddReceiveObserver(provider => provider.GetRequiredService<ParkedMessages>());
            bus.AddReceiveEndpointObserver(provider => provider.GetRequiredService<ParkedMessages>());
            configure?.Invoke(bus);

            bus.UsingRabbitMq((context, rabbit) =>
            {
                var address = ParseAddress(context.GetRequiredService<IConfiguration>().GetConnectionString(ConnectionStringName));
                rabbit.Host(address.Host, address.Port, address.VirtualHost, host =>
                {
                    host.Username(address.Username);
                    host.Password(address.Password);
                    // Names the service on the broker (management UI, rabbitmqctl list_consumers), so an SRE sees who consumes what.
                    host.ConnectionName($"{service} {Environment.MachineName} {Environment.ProcessId}");
                    if (address.UseTls)
                        host.UseSsl(ssl => ssl.ServerName = address.Host);
                });
                ConversationEventRouting.ConfigurePublish(rabbit);
                configureBus?.Invoke(context, rabbit);
                rabbit.ConfigureEndpoints(context);
            });
        });
        // In MassTransit's place: its hosted service cannot stop a bus that is still starting (see BusLifetime).
        builder.Services.RemoveMassTransitHostedService();
        builder.Services.AddHostedService<BusLifetime>();
        return builder;
    }

    /// <summary>The service name that starts this host's queue names: <c>Bus:ServiceName</c>, or the application's name.</summary>
    public static string QueueOwner(IHostApplicationBuilder builder)
    {
        var configured = builder.Configuration[$"{BusOptions.Section}:{nameof(BusOptions.ServiceName)}"];
        var name = string.IsNullOrWhiteSpace(configured) ? builder.Environment.ApplicationName : configured;
        return KebabCaseEndpointNameFormatter.Instance.SanitizeName(name.Replace('.', '-'));
    }

    /// <summary>
    /// The startup check: a receive endpoint whose queue does not carry this service's name (one named by hand, or by
    /// a formatter other than ours) could be a queue another service consumes too, so the host refuses to start.
    /// </summary>
    internal static void CheckQueueOwner(string service, string queue)
    {
        if (!queue.StartsWith(service + "-", StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"The receive endpoint '{queue}' does not belong to this service: every queue of '{service}' must be named " +
                $"'{service}-...', so that no two services consume one queue and each gets every message. Name it through " +
                "the endpoint name formatter (leave Endpoint.Name unset) or start it with the service's name.");
    }

    internal sealed record BrokerAddress(string Host, ushort Port, string VirtualHost, string Username, string Password, bool UseTls);

    internal static BrokerAddress ParseAddress(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString)
            || !Uri.TryCreate(connectionString, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("amqp" or "amqps"))
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} must be an amqp:// or amqps:// URI such as amqp://user:password@host:5672/vhost " +
                $"(environment variable ConnectionStrings__{ConnectionStringName}).");

        var credentials = uri.UserInfo.Split(':', 2);
        var username = credentials.Length > 0 && credentials[0].Length > 0 ? Uri.UnescapeDataString(credentials[0]) : "guest";
        var password = credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : "guest";
        var path = uri.AbsolutePath.Trim('/');
        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
        var useTls = uri.Scheme == "amqps";
        var port = uri.IsDefaultPort || uri.Port <= 0 ? (useTls ? 5671 : 5672) : uri.Port;
        return new BrokerAddress(uri.Host, (ushort)port, virtualHost, username, password, useTls);
    }
}
