using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Gathers delivered receipts (hub <c>Ack</c>): the highest seq per user and conversation, and every
/// <see cref="RealtimeOptions.AckBatchInterval"/> publishes them all to Messaging in one message
/// (<see cref="DeliveriesAcknowledged"/>), which moves the delivered cursors of the whole batch at once. The user is the
/// connection's, authenticated when it connected. A receipt lost with a failed publish is superseded by the next one:
/// the client acknowledges again as it receives more.
/// </summary>
public sealed class AckBatcher(IBus bus, GatewayInstance instance, TimeProvider time, IOptions<RealtimeOptions> options, ILogger<AckBatcher> logger)
    : PeriodicGatherer<(Guid User, Guid Conversation), long>(bus, logger)
{
    public void Add(Guid userId, Guid conversationId, long seq) => Gather((userId, conversationId), seq);

    protected override TimeSpan Interval => options.Value.AckBatchInterval;

    protected override string What => "delivered receipts";

    protected override object Message(IReadOnlyList<KeyValuePair<(Guid User, Guid Conversation), long>> items) => new DeliveriesAcknowledged
    {
        InstanceId = instance.Id,
        Items = items.Select(ack => new DeliveryAcknowledgement { UserId = ack.Key.User, ConversationId = ack.Key.Conversation, Seq = ack.Value }).ToList(),
        AcknowledgedAt = time.GetUtcNow(),
    };
}
