using System.Net;
using Platform.Testing;

namespace Platform.Tests;

/// <summary>
/// The six services on one vhost, as deployed: no two services may share a queue (each would get part of its messages),
/// and no queue a service needs may lack its consumer.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class BrokerTests(WholePlatform platform)
{
    [Fact]
    public async Task EveryQueue_IsConsumedByOneServiceOnly_AndEveryDurableQueueHasAConsumer()
    {
        // Traffic first, so every service has declared and bound what it uses: a hub connection (Gateway -> Presence) and a
        // message (Messaging -> Notifications, Media, Presence and the Gateways).
        var alice = await platform.SignUpAsync("Alice Traffic");
        var bob = await platform.SignUpAsync("Bob Traffic", platform.Gateway2);
        var conversationId = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        await platform.SendAsync(alice, conversationId, "traffic");
        await platform.EventuallyAsync(async () => await platform.ReadAsync(await bob.Http.GetAsync("api/v1/notifications"), HttpStatusCode.OK, "the feed", platform.Notifications),
            feed => feed.GetProperty("items").GetArrayLength() == 1, "the message reaches Bob's feed", platform.Notifications);

        var (queues, consumers, _) = await platform.EventuallyAsync(
            async () =>
            {
                var (declared, consuming) = (await platform.VirtualHost.QueueDetailsAsync(), await platform.VirtualHost.ConsumersAsync());
                return (declared, consuming, Unconsumed: string.Join(", ", Unconsumed(declared, consuming)));
            },
            // The broker names a consumer's connection once its statistics catch up.
            broker => broker.Unconsumed.Length == 0 && broker.consuming.All(consumer => consumer.Connection.Length > 0),
            "every durable queue has a consumer, and every consumer's connection a name", platform.Messaging, platform.Presence, platform.Notifications, platform.Media);

        // Connections are named "<service> <host> <pid>" (ServiceDefaults' bus setup).
        var servicesByQueue = consumers.GroupBy(consumer => consumer.Queue)
            .ToDictionary(queue => queue.Key, queue => queue.Select(consumer => consumer.Connection.Split(' ')[0]).Distinct().Order().ToList());
        var shared = servicesByQueue.Where(queue => queue.Value.Count > 1).Select(queue => $"{queue.Key}: {string.Join(", ", queue.Value)}").ToList();
        Assert.True(shared.Count == 0, "Queues consumed by more than one service:\n" + string.Join('\n', shared));
        var misnamed = servicesByQueue.Where(queue => !queue.Key.StartsWith(queue.Value[0] + "-", StringComparison.Ordinal)).Select(queue => queue.Key).ToList();
        Assert.True(misnamed.Count == 0, "Queues not named after the service consuming them:\n" + string.Join('\n', misnamed));
        Assert.Superset(new HashSet<string> { "messaging", "presence", "notifications", "media", "gateway" }, servicesByQueue.Values.SelectMany(services => services).ToHashSet());
        Assert.NotEmpty(queues);
    }

    /// <summary>Durable queues (not dead-letter ones, not a connection's temporary ones) nobody consumes.</summary>
    private static List<string> Unconsumed(IReadOnlyList<QueueInfo> queues, IReadOnlyList<(string Queue, string Connection)> consumers) =>
        queues.Where(queue => !queue.Temporary && !queue.Name.EndsWith("_error", StringComparison.Ordinal) && !queue.Name.EndsWith("_skipped", StringComparison.Ordinal))
            .Select(queue => queue.Name)
            .Except(consumers.Select(consumer => consumer.Queue))
            .ToList();
}
