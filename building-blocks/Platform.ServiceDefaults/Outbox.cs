using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Platform.ServiceDefaults;

/// <summary>The outbox's timings, bound from the <c>Outbox</c> section.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>How often the relay looks for entries the immediate publish did not get out (after a crash or a broker outage).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Entries younger than this are left to the process that wrote them.</summary>
    public TimeSpan SweepAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a publish may wait for the broker before it is left to the relay.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long published entries wait to be deleted together (one statement for all entries published meanwhile).</summary>
    public TimeSpan DeleteInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Fault injection for tests only: the process dies right after a commit, before publishing.</summary>
    public bool CrashAfterCommit { get; set; }
}

/// <summary>
/// One committed outbox entry: the integration event to publish, in the order of <see cref="Order"/> among the entries of
/// its <see cref="Key"/> (a conversation's seq; every entry of a service that needs no order can share one key).
/// </summary>
public sealed record OutboxItem(Guid Id, Guid Key, long Order, object Message, string? TraceParent = null, string? TraceState = null);

/// <summary>A service's outbox table, in its own store (Marten, EF Core, Npgsql).</summary>
public interface IOutboxStore
{
    /// <summary>Takes published entries out of the pending ones (deletes or marks them; one statement).</summary>
    Task MarkPublishedAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);
}

/// <summary>An outbox whose entries need no order beyond their commits': published from memory, swept by claiming rows.</summary>
public interface IClaimingOutboxStore : IOutboxStore
{
    /// <summary>
    /// In one transaction: claims entries committed before <paramref name="olderThan"/> that no other relay holds
    /// (<c>FOR UPDATE SKIP LOCKED</c>), at most <paramref name="limit"/>, in commit order; hands them to
    /// <paramref name="publish"/>; marks those it returns published; commits. Returns how many were published.
    /// </summary>
    Task<int> SweepAsync(DateTimeOffset olderThan, int limit, Func<IReadOnlyList<OutboxItem>, Task<IReadOnlyList<Guid>>> publish, CancellationToken cancellationToken);
}

/// <summary>
/// An outbox whose keys must reach the bus in order although several processes write one key (a conversation's seqs,
/// written by any Messaging replica): a key's entries are always read back and published in order under a lock every
/// process takes for that key.
/// </summary>
public interface IOrderedOutboxStore : IOutboxStore
{
    /// <summary>Keys with an entry committed before <paramref name="olderThan"/> still pending (for the relay).</summary>
    Task<IReadOnlyList<Guid>> KeysPendingSinceAsync(DateTimeOffset olderThan, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction, under a lock on <paramref name="key"/> shared by every process: hands the key's pending
    /// entries, in order, to <paramref name="publish"/>. Deletes nothing (the dispatcher marks published entries in
    /// batches), so the transaction writes nothing and its commit waits for no disk.
    /// </summary>
    Task ReadPendingAsync(Guid key, Func<IReadOnlyList<OutboxItem>, Task> publish, CancellationToken cancellationToken);
}

/// <summary>
/// The one outbox of every service that publishes: an event is stored in the same transaction as the change it reports
/// (the service's own store), and handed to <see cref="Committed(IReadOnlyList{OutboxItem})"/> (an ordered store's
/// writer: its overload) right after the commit. Published entries are taken out of the table in batches (one statement
/// per <see cref="OutboxOptions.DeleteInterval"/> for everything published meanwhile, whatever its key), so publishing
/// costs no write and no commit of its own. What the immediate path does not get out (the process died after the
/// commit, the broker was away) the relay (<see cref="OutboxRelay"/>) publishes from the table. Delivery is at least
/// once (a crash after the publish but before the delete publishes again; the entry's id is the message id): consumers
/// deduplicate.
/// </summary>
/// <remarks>
/// <para>An <see cref="IClaimingOutboxStore"/>'s entries are published from memory, in the order they are handed over.</para>
/// <para>
/// An <see cref="IOrderedOutboxStore"/>'s key is published from memory when the writer shows that nothing of the key
/// can be pending but what this process holds (<see cref="Committed(IReadOnlyList{OutboxItem}, long)"/>), and otherwise
/// by reading its pending entries back, in order, under the key's lock (one round trip, no write). Either way each
/// publish sends a contiguous run of what is pending, in order, and an entry leaves the table only once the broker has
/// confirmed it, so whichever processes write the key the bus carries it in order for a consumer that drops what it has
/// seen (a seq at or below the last). An entry published but not yet deleted may be read and sent again by another
/// process (never by this one, which skips up to the highest order it sent). A key's lists and read-backs run one
/// after the other in this process, in commit order; a read-back not yet started serves every commit before it.
/// </para>
/// </remarks>
public sealed class OutboxDispatcher(IOutboxStore store, IBus bus, IOptions<OutboxOptions> options, IMeterFactory meters, ILogger<OutboxDispatcher> logger)
    : BackgroundService
{
    private static readonly ActivitySource ActivitySource = new("Platform.Outbox");

    private readonly Counter<long> _published = meters.Create("Platform.Outbox").CreateCounter<long>("platform.outbox.published", description: "Outbox entries published");

    // Claiming stores: keys with a publishing loop running in this process, and the entries waiting for it.
    private readonly Dictionary<Guid, Queue<OutboxItem>> _queues = [];

    // Ordered stores: per key, the work of its one publishing loop in this process, in commit order (a list of entries to
    // send from memory, or null: read the key's pending entries back), and the highest order handed to it (or sent by it).
    private readonly Dictionary<Guid, Queue<IReadOnlyList<OutboxItem>?>> _keys = [];
    private readonly Dictionary<Guid, long> _handedThrough = [];

    // Claiming stores: entries this process holds (queued, or published and waiting to be marked): its relay skips them.
    private readonly ConcurrentDictionary<Guid, byte> _held = new();

    // Ordered stores: per key, the highest order this process has sent.
    private readonly ConcurrentDictionary<Guid, long> _sentThrough = new();

    private readonly ConcurrentQueue<Guid> _toMark = new();
    private readonly SemaphoreSlim _markSignal = new(0);

    // 1 from the signal to a marking pass until that pass starts: an entry queued meanwhile is in it, one queued after
    // it signals again. (A check of the queue's count instead missed two entries queued at once: neither saw one.)
    private int _markSignalled;

    /// <summary>Whether the broker connection is up; while it is down, committed entries are left to the relay.</summary>
    public bool BrokerAvailable => bus is not IBusControl control || control.CheckHealth().Status == BusHealthStatus.Healthy;

    /// <summary>
    /// Right after the commit that stored <paramref name="items"/>: publishes them in the background, after any entries
    /// of the same key committed before. Returns at once.
    /// </summary>
    public void Committed(IReadOnlyList<OutboxItem> items)
    {
        if (!ToPublish(items))
            return;
        foreach (var group in items.GroupBy(item => item.Key))
        {
            var key = group.Key;
            if (store is IOrderedOutboxStore)
            {
                // Not knowing what else is pending: read back everything pending, in order, under the key's lock.
                Hand(key, group.ToList(), pendingThrough: null);
                continue;
            }
            bool start;
            lock (_queues)
            {
                start = !_queues.TryGetValue(key, out var queue);
                if (start)
                    _queues[key] = queue = new Queue<OutboxItem>();
                foreach (var item in group)
                {
                    _held[item.Id] = 0;
                    queue!.Enqueue(item);
                }
            }
            if (start)
                _ = Task.Run(() => PublishQueuedAsync(key));
        }
    }

    /// <summary>
    /// For an ordered store, right after the commit that stored <paramref name="items"/> (all of one key): publishes them
    /// from memory, with no read-back, when nothing else can be pending before them. <paramref name="pendingThrough"/> is
    /// the highest order the writer found pending for the key (0: none) while it held the lock that makes the key's
    /// writers take turns in every process (before it wrote). If that is at most the highest order this process has
    /// handed over for the key (every entry up to it is sent, or queued here before these), these go after them from
    /// memory; otherwise (another process's entries, or ones a failed publish left) the key's pending entries are read
    /// back under its lock and sent in order. Returns at once.
    /// </summary>
    public void Committed(IReadOnlyList<OutboxItem> items, long pendingThrough)
    {
        if (ToPublish(items))
            Hand(items[0].Key, items, pendingThrough);
    }

    // Whether committed entries are published now: there are some and the broker is up (else the relay takes them).
    private bool ToPublish(IReadOnlyList<OutboxItem> items)
    {
        if (items.Count == 0)
            return false;
        if (options.Value.CrashAfterCommit)
            Environment.FailFast("Outbox:CrashAfterCommit is set: simulating a crash between commit and publish.");
        return BrokerAvailable;
    }

    // Queues a key's committed entries on its publishing loop (starting it if none runs): as they are, when nothing up to
    // pendingThrough can be pending but what this process has handed over, or else as a read-back.
    private void Hand(Guid key, IReadOnlyList<OutboxItem> items, long? pendingThrough)
    {
        lock (_keys)
        {
            var readBack = pendingThrough is not { } through || through > _handedThrough.GetValueOrDefault(key);
            // A read-back reads what was committed before it starts: everything handed up to here is in it.
            _handedThrough[key] = Math.Max(_handedThrough.GetValueOrDefault(key), items.Max(item => item.Order));
            var start = !_keys.TryGetValue(key, out var queue);
            if (start)
                _keys[key] = queue = new Queue<IReadOnlyList<OutboxItem>?>();
            // A read-back not yet started serves every commit before it starts: one is enough.
            if (!readBack)
                queue!.Enqueue(items);
            else if (queue!.Count == 0 || queue.Last() is not null)
                queue.Enqueue(null);
            if (start)
                _ = Task.Run(() => PublishKeyAsync(key, queue));
        }
    }

    /// <summary>Publishes a key's pending entries now, in order (the relay's way for an ordered store; tests call it).</summary>
    public async Task PublishPendingAsync(Guid key, CancellationToken cancellationToken)
    {
        var ordered = (IOrderedOutboxStore)store;
        // Under the key's lock: what this process sent up to is not sent again (it may still be in the table, its deletion
        // pending). Nothing below it can still be pending: each read-back sends everything pending in order.
        await ordered.ReadPendingAsync(key, items => SendInOrderAsync(key, items, cancellationToken), cancellationToken);
    }

    private async Task SendInOrderAsync(Guid key, IReadOnlyList<OutboxItem> items, CancellationToken cancellationToken)
    {
        foreach (var item in items)
        {
            if (item.Order <= _sentThrough.GetValueOrDefault(key))
                continue;
            await PublishAsync(item, cancellationToken);
            _sentThrough[key] = item.Order;
            _published.Add(1);
            MarkLater(item.Id);
        }
        if (_sentThrough.Count > 100_000)
            _sentThrough.Clear(); // Bounded: a forgotten key's entries awaiting deletion may be sent once more.
    }

    /// <summary>Publishes entries claimed by the relay (in the order given), skipping those this process holds; returns those published.</summary>
    public async Task<IReadOnlyList<Guid>> PublishClaimedAsync(IReadOnlyList<OutboxItem> items, CancellationToken cancellationToken)
    {
        var published = new List<Guid>();
        foreach (var item in items)
        {
            if (_held.ContainsKey(item.Id))
                continue;
            await PublishAsync(item, cancellationToken);
            published.Add(item.Id);
        }
        _published.Add(published.Count);
        return published;
    }

    // A key's one publishing loop in this process: its lists and read-backs, in the order they were handed over.
    private async Task PublishKeyAsync(Guid key, Queue<IReadOnlyList<OutboxItem>?> queue)
    {
        while (true)
        {
            IReadOnlyList<OutboxItem>? items;
            lock (_keys)
            {
                if (!queue.TryDequeue(out items))
                {
                    _keys.Remove(key);
                    if (_handedThrough.Count > 100_000)
                        _handedThrough.Clear(); // Bounded: a forgotten key's next commit reads back once.
                    return;
                }
            }
            try
            {
                if (items is null)
                    await PublishPendingAsync(key, CancellationToken.None);
                else
                    await SendInOrderAsync(key, items, CancellationToken.None);
            }
            catch (Exception exception)
            {
                // Committed is committed: the relay publishes what is left once the broker (or the store) is back. Nothing
                // of the key may overtake it: what was queued after it is dropped (the relay has it too), and the key's
                // next commit here reads back instead of sending from memory.
                int dropped;
                lock (_keys)
                {
                    dropped = queue.Count;
                    _keys.Remove(key);
                    _handedThrough.Remove(key);
                }
                logger.LogWarning(exception, "Publishing the outbox entries of {Key} failed ({Dropped} more queued); the relay will publish them", key, dropped);
                return;
            }
        }
    }

    private async Task PublishQueuedAsync(Guid key)
    {
        while (true)
        {
            OutboxItem item;
            lock (_queues)
            {
                var queue = _queues[key];
                if (!queue.TryDequeue(out item!))
                {
                    _queues.Remove(key);
                    return;
                }
            }
            try
            {
                await PublishAsync(item, CancellationToken.None);
                Published(item);
            }
            catch (Exception exception)
            {
                // Committed is committed: the relay publishes this entry and the key's later ones once the broker is back
                // (those are dropped from memory too, so that none overtakes it).
                List<OutboxItem> dropped;
                lock (_queues)
                {
                    dropped = [item, .. _queues[key]];
                    _queues.Remove(key);
                }
                foreach (var left in dropped)
                    _held.TryRemove(left.Id, out _);
                logger.LogWarning(exception, "Publishing {Count} outbox entries of {Key} failed; the relay will publish them", dropped.Count, key);
                return;
            }
        }
    }

    private void Published(OutboxItem item)
    {
        _published.Add(1);
        _held[item.Id] = 0;
        MarkLater(item.Id);
    }

    private void MarkLater(Guid id)
    {
        _toMark.Enqueue(id);
        SignalMarking();
    }

    private void SignalMarking()
    {
        if (Interlocked.CompareExchange(ref _markSignalled, 1, 0) == 0)
            _markSignal.Release();
    }

    private async Task PublishAsync(OutboxItem item, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        // MassTransit's send activity (and the traceparent header it writes) becomes a child of this one, which continues
        // the trace of the request that wrote the entry, whoever publishes it.
        ActivityContext.TryParse(item.TraceParent, item.TraceState, isRemote: true, out var parent);
        using var activity = ActivitySource.StartActivity("outbox publish", ActivityKind.Internal, parent);
        activity?.SetTag("platform.outbox.key", item.Key.ToString());
        activity?.SetTag("platform.outbox.order", item.Order);
        // The entry's id is the message id, whoever publishes it and however often: consumers deduplicate on it.
        await bus.Publish(item.Message, item.Message.GetType(), context => context.MessageId = item.Id, timeout.Token);
    }

    /// <summary>Marks published entries in batches until the host stops, then once more.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _markSignal.WaitAsync(stoppingToken);
                await Task.Delay(options.Value.DeleteInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            // Before this pass takes the queue: whatever is queued from here on signals the next pass.
            Volatile.Write(ref _markSignalled, 0);
            await MarkPublishedAsync(stoppingToken);
        }
        await MarkPublishedAsync(CancellationToken.None);
    }

    /// <summary>Marks what was published so far (tests call it; the dispatcher does every <see cref="OutboxOptions.DeleteInterval"/>).</summary>
    public async Task MarkPublishedAsync(CancellationToken cancellationToken)
    {
        var ids = new List<Guid>();
        while (ids.Count < 5000 && _toMark.TryDequeue(out var id))
            ids.Add(id);
        if (ids.Count == 0)
            return;
        try
        {
            await store.MarkPublishedAsync(ids, cancellationToken);
        }
        catch (Exception exception)
        {
            // Left in the table: the relay publishes them again (consumers deduplicate) and takes them out.
            logger.LogWarning(exception, "Marking {Count} published outbox entries failed; the relay will take them", ids.Count);
        }
        foreach (var id in ids)
            _held.TryRemove(id, out _);
        if (!_toMark.IsEmpty)
            SignalMarking();
    }
}

/// <summary>
/// Publishes what the immediate path did not: every <see cref="OutboxOptions.SweepInterval"/> (and at start), entries
/// older than <see cref="OutboxOptions.SweepAge"/>: claimed, so that relays of several replicas never take the same ones,
/// or, for an ordered store, each key's pending entries in order under its lock.
/// </summary>
public sealed class OutboxRelay(IOutboxStore store, OutboxDispatcher dispatcher, IOptions<OutboxOptions> options, TimeProvider time, ILogger<OutboxRelay> logger)
    : PeriodicJob
{
    private const int BatchSize = 1000;

    protected override ILogger Logger => logger;

    // A mechanical interval on the real clock (the default); only the entries' age is business time.
    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override Task RunPassAsync(CancellationToken cancellationToken) => SweepAsync(cancellationToken);

    /// <summary>Publishes every entry older than the sweep age (tests call it directly).</summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        if (!dispatcher.BrokerAvailable)
            return;
        var olderThan = time.GetUtcNow() - options.Value.SweepAge;
        if (store is IOrderedOutboxStore ordered)
        {
            var keys = await ordered.KeysPendingSinceAsync(olderThan, 500, cancellationToken);
            foreach (var key in keys)
                await dispatcher.PublishPendingAsync(key, cancellationToken);
            if (keys.Count > 0)
                logger.LogInformation("Outbox relay published the pending entries of {Count} keys", keys.Count);
            return;
        }
        var claiming = (IClaimingOutboxStore)store;
        int count;
        do
        {
            count = await claiming.SweepAsync(olderThan, BatchSize, items => dispatcher.PublishClaimedAsync(items, cancellationToken), cancellationToken);
            if (count > 0)
                logger.LogInformation("Outbox relay published {Count} pending entries", count);
        }
        while (count == BatchSize);
    }
}

public static class OutboxServiceExtensions
{
    /// <summary>The outbox dispatcher and relay over the service's <typeparamref name="TStore"/>.</summary>
    public static IServiceCollection AddPlatformOutbox<TStore>(this IServiceCollection services) where TStore : class, IOutboxStore
    {
        services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section);
        services.AddSingleton<IOutboxStore, TStore>();
        services.AddSingleton<OutboxDispatcher>();
        services.AddHostedService(provider => provider.GetRequiredService<OutboxDispatcher>());
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(provider => provider.GetRequiredService<OutboxRelay>());
        return services;
    }
}
