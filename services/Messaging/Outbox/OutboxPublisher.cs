using System.Diagnostics;
using System.Diagnostics.Metrics;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Platform.Messaging.Outbox;

public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>How often the relay looks for entries the immediate publish did not get out (after a crash or a broker outage).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Entries younger than this are left to the request that wrote them.</summary>
    public TimeSpan SweepAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a publish may wait for the broker before it is left to the relay.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Fault injection for tests only: the process dies right after a commit, before publishing.</summary>
    public bool CrashAfterCommit { get; set; }
}

/// <summary>
/// Publishes a conversation's pending outbox entries in seq order and deletes them. A transaction-scoped
/// advisory lock per conversation makes concurrent publishers (requests, the relay, other replicas) take
/// turns, so per-conversation order holds on the bus.
/// </summary>
public sealed class OutboxPublisher(IDocumentStore store, IBusControl bus, IOptions<OutboxOptions> options, IMeterFactory meters, ILogger<OutboxPublisher> logger)
{
    private static readonly ActivitySource ActivitySource = new("Platform.Messaging");

    private readonly Counter<long> _published = meters.Create("Platform.Messaging").CreateCounter<long>("platform.messaging.outbox.published");

    // Conversations with a publish loop running in this process, and whether more was committed meanwhile.
    private readonly Dictionary<Guid, bool> _running = [];

    /// <summary>
    /// Publishes the conversation's pending entries now, in the background: at most one loop per conversation runs
    /// in this process, and commits that land while it runs are picked up by its next round, in one batch.
    /// </summary>
    public void Schedule(Guid conversationId)
    {
        lock (_running)
        {
            if (_running.ContainsKey(conversationId))
            {
                _running[conversationId] = true;
                return;
            }
            _running[conversationId] = false;
        }
        _ = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    await PublishPendingAsync(conversationId, CancellationToken.None);
                }
                catch (Exception exception)
                {
                    // Committed is committed: the relay publishes the entries once the broker is back.
                    logger.LogWarning(exception, "Publishing conversation {ConversationId} failed; the outbox relay will retry", conversationId);
                }
                lock (_running)
                {
                    if (!_running[conversationId])
                    {
                        _running.Remove(conversationId);
                        return;
                    }
                    _running[conversationId] = false;
                }
            }
        });
    }

    /// <summary>Whether the broker connection is up; while it is down, writes leave publishing to the relay.</summary>
    public bool BrokerAvailable => bus.CheckHealth().Status == BusHealthStatus.Healthy;

    public async Task<int> PublishPendingAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        cancellationToken = timeout.Token;
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(cancellationToken);
        // One round trip: take the lock, then (the next statement, so after waiting for it) read what is pending.
        var batch = session.CreateBatchQuery();
        var locked = batch.Query<string>("select 'locked' from (select pg_advisory_xact_lock(?)) as locked", LockKey(conversationId));
        var read = batch.Query<OutboxEntry>()
            .Where(entry => entry.ConversationId == conversationId)
            .OrderBy(entry => entry.Seq)
            .Take(1000)
            .ToList();
        await batch.Execute(cancellationToken);
        await locked;
        var pending = await read;
        if (pending.Count == 0)
            return 0;

        foreach (var entry in pending)
        {
            // MassTransit's send activity (and the traceparent header it writes) becomes a child of this one.
            using var activity = StartPublishActivity(entry);
            await bus.Publish(entry.Message, cancellationToken);
        }
        var lastSeq = pending[^1].Seq;
        session.DeleteWhere<OutboxEntry>(entry => entry.ConversationId == conversationId && entry.Seq <= lastSeq);
        await session.SaveChangesAsync(cancellationToken);
        _published.Add(pending.Count);
        return pending.Count;
    }

    private static Activity? StartPublishActivity(OutboxEntry entry)
    {
        ActivityContext.TryParse(entry.TraceParent, entry.TraceState, isRemote: true, out var parent);
        var activity = ActivitySource.StartActivity("outbox publish", ActivityKind.Internal, parent);
        activity?.SetTag("platform.conversation_id", entry.ConversationId.ToString());
        activity?.SetTag("platform.seq", entry.Seq);
        return activity;
    }

    private static long LockKey(Guid conversationId) => BitConverter.ToInt64(conversationId.ToByteArray(), 8);
}
