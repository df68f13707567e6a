using MassTransit;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Gathers the highest value per key from this instance's connections and requests, and every <see cref="Interval"/>
/// publishes all of them, in messages of at most <see cref="MaxItemsPerMessage"/> items: one bus message per interval
/// instead of one per call. What a failed publish held is dropped: each use is superseded by the next gathered value.
/// When the host stops (a rollout, a scale-down), what was gathered since the last interval is published once more: the
/// realtime connections were closed as the host began stopping, and the bus is stopped after this service.
/// </summary>
public abstract class PeriodicGatherer<TKey, TValue>(IBus bus, ILogger logger) : BackgroundService
    where TKey : notnull
{
    public const int MaxItemsPerMessage = 1000;

    /// <summary>How long the last publish, as the host stops, may take in all.</summary>
    public static readonly TimeSpan FinalPublishTimeout = TimeSpan.FromSeconds(5);

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
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await PublishPendingAsync(TimeSpan.FromSeconds(10), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Stopping: what was gathered since the last interval still goes out, within FinalPublishTimeout in all.
        using var last = new CancellationTokenSource(FinalPublishTimeout);
        try
        {
            await PublishPendingAsync(FinalPublishTimeout, last.Token);
        }
        catch (OperationCanceledException) when (last.IsCancellationRequested)
        {
            logger.LogWarning("The last {What} gathered were not published within {Timeout} as the host stopped", What, FinalPublishTimeout);
        }
    }

    private async Task PublishPendingAsync(TimeSpan timeLimit, CancellationToken stoppingToken)
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
                timeout.CancelAfter(timeLimit);
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
