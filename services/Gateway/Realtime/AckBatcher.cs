using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Gathers delivered receipts (hub <c>Ack</c>): the highest seq per user and conversation, and every
/// <see cref="RealtimeOptions.AckBatchInterval"/> publishes them all to Messaging in one message
/// (<see cref="DeliveriesAcknowledged"/>, at most <see cref="MaxItemsPerMessage"/> each), which moves the delivered
/// cursors of the whole batch at once. The user is the connection's, authenticated when it connected.
/// </summary>
public sealed class AckBatcher(IBus bus, GatewayInstance instance, TimeProvider time, IOptions<RealtimeOptions> options, ILogger<AckBatcher> logger)
    : BackgroundService
{
    public const int MaxItemsPerMessage = 1000;

    private readonly Dictionary<(Guid User, Guid Conversation), long> _pending = [];

    public void Add(Guid userId, Guid conversationId, long seq)
    {
        lock (_pending)
            if (!_pending.TryGetValue((userId, conversationId), out var earlier) || earlier < seq)
                _pending[(userId, conversationId)] = seq;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.AckBatchInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            List<DeliveryAcknowledgement> batch;
            lock (_pending)
            {
                batch = _pending.Select(ack => new DeliveryAcknowledgement { UserId = ack.Key.User, ConversationId = ack.Key.Conversation, Seq = ack.Value }).ToList();
                _pending.Clear();
            }
            foreach (var items in batch.Chunk(MaxItemsPerMessage))
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    await bus.Publish(new DeliveriesAcknowledged { InstanceId = instance.Id, Items = items, AcknowledgedAt = time.GetUtcNow() }, timeout.Token);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // A receipt is superseded by the next one; the client acks again as it receives more.
                    logger.LogWarning(exception, "Publishing {Count} delivered receipts failed", items.Length);
                }
            }
        }
    }
}
