using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;
using Platform.Gateway.Realtime;

namespace Platform.Gateway.Tests;

/// <summary>The ordering engine's bookkeeping of where each connection's stream starts, driven as the hub and the bus drive it.</summary>
public sealed class ConversationStreamsTests
{
    private static (ConversationStreams Registry, RealtimeConnection Connection) Connected(Guid userId)
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = Options.Create(new RealtimeOptions());
        var metrics = new RealtimeMetrics(services.GetRequiredService<IMeterFactory>());
        var connections = new ConnectionIndex(options, metrics, TimeProvider.System, NullLogger<ConnectionIndex>.Instance);
        var replayer = new Replayer(services.GetRequiredService<IServiceScopeFactory>(), connections, options, metrics, TimeProvider.System, NullLogger<Replayer>.Instance);
        var registry = new ConversationStreams(connections, replayer, options, metrics, TimeProvider.System);
        var context = new HubConnectionContext(new DefaultConnectionContext(Guid.NewGuid().ToString()), new HubConnectionContextOptions(), NullLoggerFactory.Instance);
        var connection = connections.Add(context);
        Assert.True(connections.TryAssignUser(connection, userId));
        return (registry, connection);
    }

    private static ConversationEvent Created(Guid conversationId, params Guid[] members) => new()
    {
        EventId = Guid.NewGuid(),
        ConversationId = conversationId,
        Seq = 1,
        Type = ConversationEventTypes.ConversationCreated,
        OccurredAt = DateTimeOffset.UtcNow,
        ActorId = members[0],
        Data = JsonSerializer.SerializeToElement(new { members = members.Select(id => new { userId = id }) }),
    };

    [Fact]
    public void AConversationCreatedEventArrivingDuringSetup_DoesNotMoveTheStreamBeforeWhatMessagingAnswered()
    {
        // The conversation was created before the client connected, but its event reached this instance only while
        // the connection was asking Messaging for its conversations: the client starts at the end Messaging gave.
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        var (registry, connection) = Connected(user);

        registry.BeginSetup(connection);
        registry.Deliver(Created(conversation, Guid.NewGuid(), user));
        registry.SubscribeAwaitingResume(connection, [(conversation, 1L)]);
        registry.EndSetup(connection);

        Assert.Equal([(conversation, 1L)], registry.Positions(connection));
    }

    [Fact]
    public void AConversationCreatedAfterTheSetupRead_StartsBeforeItsFirstEvent()
    {
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        var (registry, connection) = Connected(user);

        registry.BeginSetup(connection);
        registry.SubscribeAwaitingResume(connection, []);
        registry.EndSetup(connection);
        registry.Deliver(Created(conversation, Guid.NewGuid(), user));

        Assert.Equal([(conversation, 0L)], registry.Positions(connection));
    }
}
