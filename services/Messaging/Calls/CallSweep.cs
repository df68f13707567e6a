using Marten;
using Microsoft.Extensions.Options;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Calls;

/// <summary>
/// Ends calls nobody answered within the ring timeout (missed) and calls older than <see cref="CallsOptions.MaxDuration"/>
/// (failed), every <see cref="CallsOptions.SweepInterval"/>. Each ending is decided again under the conversation's lock,
/// so a join racing the timeout wins or loses cleanly. Time comes from <see cref="TimeProvider"/>.
/// </summary>
public sealed class CallSweep(IDocumentStore store, ConversationWriter writer, IOptions<CallsOptions> options, TimeProvider time, ILogger<CallSweep> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeProvider Clock => time;

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override bool RunsAtStart => false;

    protected override Task RunPassAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var oldest = now - options.Value.MaxDuration;
        List<CallView> due;
        await using (var session = store.QuerySession())
            due = (await session.Query<CallView>()
                .Where(c => (c.State == CallState.Ringing && c.RingsUntil <= now) || (c.State != CallState.Ended && c.StartedAt <= oldest))
                .Take(500)
                .ToListAsync(cancellationToken)).ToList();
        var ended = 0;
        foreach (var found in due)
        {
            var result = await writer.WriteAsync(found.ConversationId, async context =>
            {
                var outcome = CallRules.Expire(await context.Call(found.Id, cancellationToken), options.Value, now);
                if (outcome.Events.Count > 0)
                    context.Set(outcome.Call!);
                return new Decision(outcome.Events);
            }, cancellationToken);
            ended += result.Appended.Count;
        }
        return ended;
    }
}
