using System.Diagnostics;
using Npgsql;

namespace Platform.Benchmarks;

/// <param name="Events">Posted messages that waited in Notifications' queue.</param>
/// <param name="DrainSeconds">From Notifications' resumption until every one of them is processed.</param>
/// <param name="Usage">CPU and peak RSS per process over the drain.</param>
internal sealed record BacklogRow(int Events, double DrainSeconds, Dictionary<string, (double CpuSeconds, double PeakRssMiB)> Usage)
{
    public double EventsPerSecond => Events / DrainSeconds;

    /// <summary>Milliseconds of CPU per event of a process over the drain.</summary>
    public double CpuMsPerEvent(string process) => Usage.TryGetValue(process, out var used) ? used.CpuSeconds * 1000 / Events : double.NaN;
}

/// <summary>
/// <c>backlog</c> (not in <c>all</c>): how fast Notifications catches up after it was away, the case its batches exist
/// for. Notifications is frozen (SIGSTOP, its connections open, as a long pause would leave it) while the users send
/// <c>--backlog</c> messages at <c>--rate</c> (default 200/s), which the others deliver as usual; then it is resumed and
/// the harness counts its processed marks (<c>notifications.mt_doc_processed_event</c>, one per event) until all are
/// there. Reported: the drain's events per second and each process's CPU per event meanwhile.
/// </summary>
internal static class NotificationsBacklog
{
    public static async Task<BacklogRow> RunAsync(PlatformUnderTest platform, IRoomLoad rooms, ProcessUsage usage, int events, double rate, int size)
    {
        var notifications = platform.Others[1];
        await using var database = new NpgsqlConnection(platform.Infrastructure.Database.ConnectionString);
        await database.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM notifications.mt_doc_processed_event", database);
        async Task<long> ProcessedAsync() => (long)(await count.ExecuteScalarAsync())!;

        // Whatever came before is processed first, so that the count below is this scenario's only.
        var settled = await ProcessedAsync();
        for (var quiet = 0; quiet < 10;)
        {
            await Task.Delay(200);
            var now = await ProcessedAsync();
            quiet = now == settled ? quiet + 1 : 0;
            settled = now;
        }

        FaultPlatform.Signal(notifications, stop: true);
        Stopwatch drain;
        try
        {
            Console.WriteLine($"bench: backlog: {events} messages at {rate}/s while Notifications is frozen");
            await rooms.SendAsync(rate, events, 0, size, "backlog");
        }
        finally
        {
            usage.Begin();
            drain = Stopwatch.StartNew();
            FaultPlatform.Signal(notifications, stop: false);
        }
        var target = settled + events;
        while (await ProcessedAsync() < target)
        {
            if (drain.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException($"Notifications processed {await ProcessedAsync() - settled} of {events} events in 5 minutes.");
            await Task.Delay(50);
        }
        var seconds = drain.Elapsed.TotalSeconds;
        return new BacklogRow(events, seconds, usage.End());
    }
}
