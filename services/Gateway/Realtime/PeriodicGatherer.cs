using MassTransit;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Gathers the highest value per key from this instance's connections and requests, and every <see cref="Interval"/>
/// publishes all of them, in messages of at most <see cref="MaxItemsPerMessage"/> items: one bus message per interval
/// instead of one per call. What a failed publish held is dropped: each use is superseded by the next gathered value.
/// </summary>
public abstract class PeriodicGatherer<TKey, TValue>(IBus bus, ILogger logger) : BackgroundService
    where TKey : notnull
{
    public const int MaxItemsPerMessage = 1000;

    private readonly Dictionary<TKey, TValue> _pending = [];

    protected abstract TimeSpan Interval { get; }

    /// <summary>What the items are, for the log.</summary>
    protected abstract string What { get; }

    protected abstract object Message(IReadOnlyList<KeyValuePair<TKey, TValue>> items);

    protected void Gather(TKey key, TValue value)
    {
        lock (_pending)
            if (!_pending.TryGetValue(key, out var earlier) || Comparer<TValue>.Default.Compare(earlier, value) < 0)
                _pending[key] = value;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            List<KeyValuePair<TKey, TValue>> batch;
            lock (_pending)
            {
                batch = [.. _pending];
                _pending.Clear();
            }
            foreach (var items in batch.Chunk(MaxItemsPerMessage))
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    var message = Message(items);
                    await bus.Publish(message, message.GetType(), timeout.Token);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "Publishing {Count} {What} failed", items.Length, What);
                }
            }
        }
    }
}
