using Marten;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Retention;

public sealed class RetentionOptions
{
    public const string Section = "Retention";

    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Messages erased per conversation per pass; the rest follow on the next pass.</summary>
    public int BatchSize { get; set; } = 500;
}

/// <summary>
/// Erases messages older than their conversation's <c>retentionDays</c>, exactly as a delete does (a tombstone
/// event, text gone from read models and stored events). Time comes from <see cref="TimeProvider"/>.
/// </summary>
public sealed class RetentionJob(IDocumentStore store, ConversationWriter writer, IOptions<RetentionOptions> options, TimeProvider time, ILogger<RetentionJob> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeProvider Clock => time;

    /// <summary>The actor of erasures nobody asked for.</summary>
    public static readonly Guid SystemActor = Guid.Empty;

    protected override TimeSpan Interval => options.Value.Interval;

    protected override bool RunsAtStart => false;

    protected override Task RunPassAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var erased = 0;
        await using var session = store.QuerySession();
        var conversations = await session.Query<ConversationView>().Where(c => c.RetentionDays != null).ToListAsync(cancellationToken);
        foreach (var conversation in conversations)
        {
            var cutoff = now.AddDays(-conversation.RetentionDays!.Value);
            var expired = await session.Query<MessageView>()
                .Where(m => m.ConversationId == conversation.Id && !m.Deleted && m.CreatedAt < cutoff)
                .OrderBy(m => m.Seq)
                .Select(m => m.Id)
                .Take(options.Value.BatchSize)
                .ToListAsync(cancellationToken);
            if (expired.Count == 0)
                continue;
            var result = await writer.WriteAsync(conversation.Id, async context =>
            {
                var events = new List<object>();
                foreach (var id in expired)
                    if (await context.Message(id, cancellationToken) is { Deleted: false })
                        events.Add(new MessageDeleted(id, SystemActor, now, DeleteReasons.Retention));
                return new Decision(events);
            }, cancellationToken);
            erased += result.Appended.Count;
        }
        if (erased > 0)
            logger.LogInformation("Retention erased {Count} expired messages", erased);
        return erased;
    }
}
