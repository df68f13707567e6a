using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.BuildingBlocks.Tests;

public sealed class BusTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    private sealed class Received
    {
        public TaskCompletionSource<UserRegistered> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class UserRegisteredConsumer(Received received) : IConsumer<UserRegistered>
    {
        public Task Consume(ConsumeContext<UserRegistered> context)
        {
            received.First.TrySetResult(context.Message);
            return Task.CompletedTask;
        }
    }

    /// <summary>Stores each user it hears of in PostgreSQL, reached through a proxy the test can take down.</summary>
    private sealed class StoringConsumer(Npgsql.NpgsqlDataSource store) : IConsumer<UserRegistered>
    {
        public async Task Consume(ConsumeContext<UserRegistered> context)
        {
            await using var command = store.CreateCommand("INSERT INTO seen (id) VALUES ($1) ON CONFLICT DO NOTHING");
            command.Parameters.AddWithValue(context.Message.UserId);
            await command.ExecuteNonQueryAsync(context.CancellationToken);
        }
    }

    private sealed class Gate
    {
        public volatile bool Open;
    }

    private sealed class GatedConsumer(Gate gate, Received received) : IConsumer<UserRegistered>
    {
        public Task Consume(ConsumeContext<UserRegistered> context)
        {
            if (!gate.Open)
                throw new InvalidOperationException("cannot handle this yet");
            received.First.TrySetResult(context.Message);
            return Task.CompletedTask;
        }
    }

    private sealed class Counted
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add() => Interlocked.Increment(ref _count);
    }

    private sealed class CountingConsumer(Counted counted) : IConsumer<UserRegistered>
    {
        public Task Consume(ConsumeContext<UserRegistered> context)
        {
            counted.Add();
            return Task.CompletedTask;
        }
    }

    private sealed class FailingConsumer : IConsumer<UserRegistered>
    {
        public Task Consume(ConsumeContext<UserRegistered> context) => throw new InvalidOperationException("a bug");
    }

    private IHost CreateHost(Action<IBusRegistrationConfigurator>? consumers = null, string? service = null,
        Action<IServiceCollection>? services = null, string? broker = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = broker ?? infrastructure.VirtualHost.ConnectionString,
            ["Bus:ServiceName"] = service,
        });
        builder.Services.AddSingleton<Received>();
        services?.Invoke(builder.Services);
        builder.Configuration["Bus:RetryMinIntervalMs"] = "20";
        builder.Configuration["Bus:RetryMaxIntervalMs"] = "100";
        builder.Configuration["Bus:OutageRetryMaxIntervalMs"] = "500";
        builder.AddPlatformBus(consumers);
        return builder.Build();
    }

    private sealed class Seen
    {
        public System.Collections.Concurrent.ConcurrentQueue<ConversationEvent> Events { get; } = new();
    }

    private sealed class ConversationEventRecorder(Seen seen) : IConsumer<ConversationEvent>
    {
        public Task Consume(ConsumeContext<ConversationEvent> context)
        {
            seen.Events.Enqueue(context.Message);
            return Task.CompletedTask;
        }
    }

    private sealed class RichOnlyDefinition : ConversationEventSubscriber<ConversationEventRecorder>
    {
        protected override string[] RoutingKeys => [ConversationEventTypes.MessagePosted + ConversationEventRouting.RichSuffix, ConversationEventTypes.MemberJoined];
    }

    [Fact]
    public async Task ASubscriber_GetsOnlyTheConversationEventsOfItsKeys_WhileADefaultConsumerGetsThemAll()
    {
        using var subscriber = CreateHost(bus => bus.AddConsumer<ConversationEventRecorder, RichOnlyDefinition>(), "media",
            services => services.AddSingleton<Seen>());
        using var everything = CreateHost(bus => bus.AddConsumer<ConversationEventRecorder>(), "notifications", services => services.AddSingleton<Seen>());
        using var publisher = CreateHost(service: "messaging");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var host in new[] { subscriber, everything, publisher })
        {
            await host.StartAsync(timeout.Token);
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        }

        var conversation = Guid.CreateVersion7();
        ConversationEvent Event(long seq, IConversationEventData data) =>
            ConversationEvent.Create(Guid.CreateVersion7(), conversation, seq, DateTimeOffset.UtcNow, Guid.CreateVersion7(), data, DateTimeOffset.UtcNow);
        MessageDto Message(string text, IReadOnlyList<string> urls) =>
            new(Guid.CreateVersion7(), conversation, 0, Guid.CreateVersion7(), "c", text, [], urls, null, 0, null, false, null, false, [], [],
                DateTimeOffset.UtcNow, [], false, null);
        var plain = Message("plain", []);
        var events = new[]
        {
            Event(1, new MemberJoinedData(Guid.CreateVersion7(), "member", Guid.CreateVersion7())),
            Event(2, plain),
            Event(3, Message("see https://example.com", ["https://example.com"])),
            Event(4, new ReactionAddedData(plain.Id, "👍", plain.SenderId)),
        };
        Assert.Equal(["member.joined", "message.posted", "message.posted.rich", "reaction.added"], events.Select(ConversationEventRouting.KeyOf));
        var publish = publisher.Services.GetRequiredService<IPublishEndpoint>();
        foreach (var e in events)
            await publish.Publish(e, timeout.Token);

        var all = everything.Services.GetRequiredService<Seen>().Events;
        await Eventually.Returns(() => Task.FromResult(all.Count), count => count == 4, TimeSpan.FromSeconds(15), "the default consumer gets every event");
        var some = subscriber.Services.GetRequiredService<Seen>().Events;
        await Eventually.Returns(() => Task.FromResult(some.Count), count => count >= 2, TimeSpan.FromSeconds(15), "the subscriber gets its events");
        // The default consumer got the plain message and the reaction after the others; the subscriber never gets them.
        await Eventually.Returns(() => Task.FromResult(all.Count), count => count == 4, TimeSpan.FromSeconds(1), "nothing more");
        Assert.Equal([1L, 3L], some.Select(e => e.Seq).Order());
        foreach (var host in new[] { publisher, everything, subscriber })
            await host.StopAsync(timeout.Token);
    }

    private sealed class JoinsOnlyDefinition : ConversationEventSubscriber<ConversationEventRecorder>
    {
        protected override string[] RoutingKeys => [ConversationEventTypes.MemberJoined];

        protected override string[] RetiredRoutingKeys => [ConversationEventTypes.MessagePosted + ".#"];
    }

    [Fact]
    public async Task ASubscriber_RemovesTheBindingsAnEarlierVersionMade_SoAnUpgradedBrokerBringsItOnlyItsKeys()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var broker = infrastructure.VirtualHost;
        const string endpoint = "upgraded-conversation-event-recorder";
        IHost Subscriber() => CreateHost(bus => bus.AddConsumer<ConversationEventRecorder, JoinsOnlyDefinition>(), "upgraded", services => services.AddSingleton<Seen>());
        async Task<IReadOnlyList<(string, string)>> BindingsOnceStarted(IHost host)
        {
            await host.StartAsync(timeout.Token);
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
            IReadOnlyList<(string, string)> wanted = [(ConversationEventRouting.ByTypeExchange, ConversationEventTypes.MemberJoined)];
            return await Eventually.Returns(() => broker.BindingsToExchangeAsync(endpoint), bindings => bindings.Order().SequenceEqual(wanted),
                TimeSpan.FromSeconds(15), "only the subscriber's own key binds its exchange");
        }

        using (var first = Subscriber())
        {
            await BindingsOnceStarted(first);
            await first.StopAsync(timeout.Token);
        }
        // What a broker upgraded from earlier versions still has: the fanout's direct binding (before routing by type)
        // and a key the subscriber no longer names. Each alone would bring it every posted message.
        await broker.BindExchangeAsync(ConversationEventRouting.EventExchange, endpoint, "");
        await broker.BindExchangeAsync(ConversationEventRouting.ByTypeExchange, endpoint, ConversationEventTypes.MessagePosted + ".#");
        using var upgraded = Subscriber();
        await BindingsOnceStarted(upgraded);

        using var publisher = CreateHost(service: "messaging");
        await publisher.StartAsync(timeout.Token);
        await publisher.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        var conversation = Guid.CreateVersion7();
        var publish = publisher.Services.GetRequiredService<IPublishEndpoint>();
        await publish.Publish(ConversationEvent.Create(Guid.CreateVersion7(), conversation, 1, DateTimeOffset.UtcNow, Guid.CreateVersion7(),
            new MessageDto(Guid.CreateVersion7(), conversation, 1, Guid.CreateVersion7(), "c", "plain", [], [], null, 0, null, false, null, false, [], [],
                DateTimeOffset.UtcNow, [], false, null), DateTimeOffset.UtcNow), timeout.Token);
        await publish.Publish(ConversationEvent.Create(Guid.CreateVersion7(), conversation, 2, DateTimeOffset.UtcNow, Guid.CreateVersion7(),
            new MemberJoinedData(Guid.CreateVersion7(), "member", Guid.CreateVersion7()), DateTimeOffset.UtcNow), timeout.Token);
        var seen = upgraded.Services.GetRequiredService<Seen>().Events;
        await Eventually.Returns(() => Task.FromResult(seen.Count), count => count >= 1, TimeSpan.FromSeconds(15), "the join arrives");
        // The posted message went out first: had any binding still brought it, it would have arrived before the join.
        await Task.Delay(500, timeout.Token);
        Assert.Equal([2L], seen.Select(e => e.Seq));
        await upgraded.StopAsync(timeout.Token);

        // Removing a binding that is not there is no error: with only the retired key put back, it goes too.
        await broker.BindExchangeAsync(ConversationEventRouting.ByTypeExchange, endpoint, ConversationEventTypes.MessagePosted + ".#");
        using (var again = Subscriber())
        {
            await BindingsOnceStarted(again);
            await again.StopAsync(timeout.Token);
        }
        await publisher.StopAsync(timeout.Token);
    }

    [Fact]
    public async Task Contract_PublishedByOneHost_IsConsumedByAnotherHostOverRabbitMq()
    {
        using var consumerHost = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>());
        using var publisherHost = CreateHost();
        await consumerHost.StartAsync();
        await publisherHost.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await consumerHost.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);

        var sent = new UserRegistered
        {
            UserId = Guid.CreateVersion7(),
            Username = "ada",
            DisplayName = "Ada Lovelace",
            RegisteredAt = DateTimeOffset.UtcNow,
        };
        await publisherHost.Services.GetRequiredService<IPublishEndpoint>().Publish(sent, timeout.Token);

        var received = await consumerHost.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        Assert.Equal(sent, received);
        await publisherHost.StopAsync();
        await consumerHost.StopAsync();
    }

    [Fact]
    public async Task TwoServicesWithTheSameConsumer_EachHaveTheirOwnQueue_AndEachGetsEveryMessage()
    {
        using var media = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>(), service: "media");
        using var notifications = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>(), service: "notifications");
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var host in new[] { media, notifications, publisher })
            await host.StartAsync(timeout.Token);
        foreach (var host in new[] { media, notifications })
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);

        await publisher.Services.GetRequiredService<IPublishEndpoint>().Publish(
            new UserRegistered { UserId = Guid.CreateVersion7(), Username = "grace", DisplayName = "Grace Hopper", RegisteredAt = DateTimeOffset.UtcNow },
            timeout.Token);

        await media.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        await notifications.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token);
        // The management API's consumer list lags the broker by its statistics interval.
        // Both queues' consumers: each service also consumes token revocations, so two entries may be one service's.
        var consumers = await Eventually.Returns(infrastructure.VirtualHost.ConsumersAsync,
            list => list.All(c => c.Connection.Length > 0) && list.Any(c => c.Queue == "media-user-registered") && list.Any(c => c.Queue == "notifications-user-registered"),
            TimeSpan.FromSeconds(20), "the management API lists both consumers");
        Assert.Contains(consumers, c => c.Queue == "media-user-registered" && c.Connection.StartsWith("media ", StringComparison.Ordinal));
        Assert.Contains(consumers, c => c.Queue == "notifications-user-registered" && c.Connection.StartsWith("notifications ", StringComparison.Ordinal));
        foreach (var host in new[] { publisher, notifications, media })
            await host.StopAsync();
    }

    [Fact]
    public async Task AQueueNamedWithoutTheServicesName_IsRefusedAtStart()
    {
        using var host = CreateHost(bus => bus.AddConsumer<UserRegisteredConsumer>().Endpoint(endpoint => endpoint.Name = "user-registered"), service: "media");

        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains("'user-registered' does not belong to this service", refusal.ToString());
    }

    [Fact]
    public async Task AHostStoppedWhileItsBusIsStillConnecting_NeverConsumesAfterwards()
    {
        // The broker is reachable only through a proxy that holds every byte: the first host's bus is still starting
        // when the host stops. Once the bytes flow again, that bus must not come to life and take a share of the queue
        // with its host's container disposed (MassTransit's own hosted service let it).
        var direct = new Uri(infrastructure.VirtualHost.ConnectionString);
        await using var proxy = new TcpProxy(new Uri($"tcp://{direct.Host}:{direct.Port}"));
        proxy.Blackhole();
        var throughProxy = new UriBuilder(direct) { Host = proxy.Address.Host, Port = proxy.Address.Port }.Uri.ToString();
        var stoppedEarly = new Counted();
        using (var early = CreateHost(bus => bus.AddConsumer<CountingConsumer>(), service: "late", services: s => s.AddSingleton(stoppedEarly), broker: throughProxy))
        {
            await early.StartAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            await early.StopAsync();
        }
        proxy.Restore();
        await Task.Delay(TimeSpan.FromSeconds(3));

        var live = new Counted();
        using var consumer = CreateHost(bus => bus.AddConsumer<CountingConsumer>(), service: "late", services: s => s.AddSingleton(live));
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await consumer.StartAsync(timeout.Token);
        await publisher.StartAsync(timeout.Token);
        await consumer.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        for (var i = 0; i < 20; i++)
            await publisher.Services.GetRequiredService<IPublishEndpoint>().Publish(
                new UserRegistered { UserId = Guid.CreateVersion7(), Username = "u", DisplayName = "U", RegisteredAt = DateTimeOffset.UtcNow }, timeout.Token);

        await Eventually.Returns(() => Task.FromResult(live.Count), count => count == 20, TimeSpan.FromSeconds(20), "the live host consumes all 20");
        Assert.Equal(0, stoppedEarly.Count);
        Assert.DoesNotContain("late-counting_error", await infrastructure.VirtualHost.QueuesAsync());
        await publisher.StopAsync();
        await consumer.StopAsync();
    }

    [Fact]
    public async Task WhileTheConsumersDatabaseIsDown_MessagesWait_AndNoneIsLostOrParked()
    {
        await using (var setup = new Npgsql.NpgsqlConnection(infrastructure.Database.ConnectionString))
        {
            await setup.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand("CREATE TABLE seen (id uuid PRIMARY KEY)", setup);
            await create.ExecuteNonQueryAsync();
        }
        var database = new Npgsql.NpgsqlConnectionStringBuilder(infrastructure.Database.ConnectionString);
        await using var proxy = new TcpProxy(new Uri($"tcp://{database.Host}:{database.Port}"));
        database.Host = proxy.Address.Host;
        database.Port = proxy.Address.Port;
        database.Timeout = 2;
        await using var store = Npgsql.NpgsqlDataSource.Create(database.ConnectionString);
        using var consumer = CreateHost(bus => bus.AddConsumer<StoringConsumer>(), service: "outage", services: s => s.AddSingleton(store));
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await consumer.StartAsync(timeout.Token);
        await publisher.StartAsync(timeout.Token);
        await consumer.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        var bus = publisher.Services.GetRequiredService<IPublishEndpoint>();
        Task PublishAsync(int count) => Task.WhenAll(Enumerable.Range(0, count).Select(_ => bus.Publish(
            new UserRegistered { UserId = Guid.CreateVersion7(), Username = "u", DisplayName = "U", RegisteredAt = DateTimeOffset.UtcNow }, timeout.Token)));

        await PublishAsync(50);
        proxy.Refuse();
        await PublishAsync(50);
        // The outage's length is what is under test: longer than the whole ordinary retry budget, so those messages
        // would be parked by now.
        await Task.Delay(TimeSpan.FromSeconds(3), timeout.Token);
        proxy.Restore();
        await PublishAsync(50);

        await Eventually.Returns(async () =>
        {
            await using var count = store.CreateCommand("SELECT count(*) FROM seen");
            return (long)(await count.ExecuteScalarAsync())!;
        }, stored => stored == 150, TimeSpan.FromSeconds(40), "every message published before, during and after the outage is stored");
        Assert.DoesNotContain("outage-storing_error", await infrastructure.VirtualHost.QueuesAsync());
        await publisher.StopAsync();
        await consumer.StopAsync();
    }

    [Fact]
    public async Task AMessageAConsumerCannotHandle_IsRetried_ThenParkedOnce_AndCounted()
    {
        var parked = 0L;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "platform.bus.parked")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "queue", Value: "parking-failing" })
                    Interlocked.Add(ref parked, value);
        });
        listener.Start();
        using var consumer = CreateHost(bus => bus.AddConsumer<FailingConsumer>(), service: "parking");
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await consumer.StartAsync(timeout.Token);
        await publisher.StartAsync(timeout.Token);
        await consumer.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);

        await publisher.Services.GetRequiredService<IPublishEndpoint>().Publish(
            new UserRegistered { UserId = Guid.CreateVersion7(), Username = "p", DisplayName = "P", RegisteredAt = DateTimeOffset.UtcNow }, timeout.Token);

        await Eventually.Returns(async () => await infrastructure.VirtualHost.QueuesAsync(), queues => queues.Contains("parking-failing_error"),
            TimeSpan.FromSeconds(20), "the message is parked in the endpoint's _error queue");
        await Eventually.Returns(() => Task.FromResult(Interlocked.Read(ref parked)), count => count >= 1, TimeSpan.FromSeconds(10), "the parking is counted");
        Assert.Equal(1, Interlocked.Read(ref parked));
        await publisher.StopAsync();
        await consumer.StopAsync();
    }

    [Fact]
    public async Task AParkedMessage_IsReplayedByTheDocumentedCommand_OnceItsConsumerCanHandleIt()
    {
        var gate = new Gate();
        using var consumer = CreateHost(bus => bus.AddConsumer<GatedConsumer>(), service: "replaying", services: s => s.AddSingleton(gate));
        using var publisher = CreateHost(service: "identity");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await consumer.StartAsync(timeout.Token);
        await publisher.StartAsync(timeout.Token);
        await consumer.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout.Token);
        var sent = new UserRegistered { UserId = Guid.CreateVersion7(), Username = "r", DisplayName = "R", RegisteredAt = DateTimeOffset.UtcNow };
        await publisher.Services.GetRequiredService<IPublishEndpoint>().Publish(sent, timeout.Token);
        await Eventually.Returns(() => BusCommand("parked"), output => output.Contains("1\treplaying-gated_error"), TimeSpan.FromSeconds(30),
            "scripts/bus.sh parked lists the parked message");

        gate.Open = true;
        var replay = await BusCommand("replay", "replaying-gated");

        Assert.Contains("replaying-gated_error -> replaying-gated: moved 1", replay);
        Assert.Equal(sent, await consumer.Services.GetRequiredService<Received>().First.Task.WaitAsync(timeout.Token));
        // The management API's counts lag the broker by its statistics interval.
        await Eventually.Returns(() => BusCommand("parked"), output => !output.Contains("replaying-gated_error"), TimeSpan.FromSeconds(20),
            "nothing is parked any more");
        await publisher.StopAsync();
        await consumer.StopAsync();
    }

    private async Task<string> BusCommand(params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo(Path.Combine(TestInfrastructure.RepositoryRoot, "scripts", "bus.sh"), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["RABBITMQ_MANAGEMENT_URL"] = (await TestInfrastructure.GetAsync()).RabbitMqManagement.ToString();
        info.Environment["RABBITMQ_VHOST"] = infrastructure.VirtualHost.Name;
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"scripts/bus.sh {string.Join(' ', arguments)} exited {process.ExitCode}: {await errors}");
        return await output;
    }
}
