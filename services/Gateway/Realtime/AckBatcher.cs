using Microsoft.Extensions.Options;

namespace Platform.Gateway.Realtime;

/// <summary>Gathers delivered receipts (hub <c>Ack</c>) and forwards the highest seq per user and conversation to Messaging.</summary>
public sealed class AckBatcher(IServiceScopeFactory scopes, IOptions<RealtimeOptions> options, ILogger<AckBatcher> logger) : BackgroundService
{
    private readonly Dictionary<(Guid User, Guid Conversation), (long Seq, string Token)> _pending = [];

    public void Add(Guid userId, Guid conversationId, long seq, string token)
    {
        lock (_pending)
            if (!_pending.TryGetValue((userId, conversationId), out var earlier) || earlier.Seq < seq)
                _pending[(userId, conversationId)] = (seq, token);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.AckBatchInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            List<KeyValuePair<(Guid User, Guid Conversation), (long Seq, string Token)>> batch;
            lock (_pending)
            {
                batch = [.. _pending];
                _pending.Clear();
            }
            if (batch.Count == 0)
                continue;
            using var scope = scopes.CreateScope();
            var messaging = scope.ServiceProvider.GetRequiredService<MessagingClient>();
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken }, async (ack, cancellationToken) =>
            {
                try
                {
                    await messaging.PostDeliveredAsync(ack.Value.Token, ack.Key.Conversation, ack.Value.Seq, cancellationToken);
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // A receipt is superseded by the next one; the client acks again as it receives more.
                    logger.LogWarning(exception, "Forwarding a delivered receipt for conversation {ConversationId} failed", ack.Key.Conversation);
                }
            });
        }
    }
}
