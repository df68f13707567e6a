using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Messaging;

namespace Platform.ServiceDefaults;

/// <summary>Where and how a service reads Messaging's conversation log to rebuild what it derives from it; section <c>ConversationLog</c>.</summary>
public sealed class ConversationLogOptions
{
    public const string Section = "ConversationLog";

    /// <summary>Messaging's internal address (not the Gateway's: the feed is not routed there).</summary>
    [Url]
    public string? MessagingAddress { get; set; }

    [Range(1, 1000)]
    public int PageSize { get; set; } = 500;

    /// <summary>A pass also runs this often (besides at start and whenever the bus's queues are (re)declared); zero: never.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>After a failed pass (Messaging or Identity unreachable), the next try comes this much later.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The checkpoint stays behind events committed this recently (by Messaging's clock), so an append whose transaction
    /// was still open while a page was read (a lower position, visible later) is read again by the next pass.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Off: no backfill (a service that must not call Messaging, e.g. in a test of its own).</summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>What a service does with the log: its own checkpoint, and the same per-event code its live consumer runs.</summary>
public interface IConversationLogReplay
{
    /// <summary>The position up to which the log was applied; 0 when none is stored (first start, data reset).</summary>
    Task<long> LoadCheckpointAsync(CancellationToken cancellationToken);

    /// <summary>Stores the checkpoint; never moves it back (several replicas run passes).</summary>
    Task SaveCheckpointAsync(long position, CancellationToken cancellationToken);

    /// <summary>
    /// Applies one event as its live consumer would, except for effects that only make sense live (pushes, fresh
    /// notifications, link previews). Must be idempotent: the live consumer may apply the same event before or after.
    /// </summary>
    Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken);
}

/// <summary>Reads Messaging's service-only feed with this service's client-credentials token.</summary>
public sealed class ConversationLogClient(HttpClient http)
{
    public async Task<ConversationLogPage> ReadAsync(long after, int limit, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{ConversationLogFeed.Path.TrimStart('/')}?after={after}&limit={limit}", cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<ConversationLogPage>(cancellationToken)
            ?? throw new InvalidOperationException("The conversation log feed answered an empty body.");
    }
}

/// <summary>
/// Rebuilds a service's state derived from conversation events: reads the log from the stored checkpoint to the head,
/// page by page, and replays each event. A pass runs at start, whenever a receive endpoint of this host becomes ready
/// (the bus connected and its queues were declared: first start, a broker restart, a queue deleted and declared again),
/// and every <see cref="ConversationLogOptions.Interval"/>. Passes never overlap in one process; a failed one is retried.
/// The host is ready meanwhile.
/// </summary>
public sealed class ConversationLogBackfill(
    IServiceScopeFactory scopes, ConversationLogClient feed, IOptions<ConversationLogOptions> options, TimeProvider time,
    IMeterFactory meters, ILogger<ConversationLogBackfill> logger)
    : BackgroundService, IReceiveEndpointObserver
{
    private readonly Channel<bool> _requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Counter<long> _replayed = meters.Create("Platform.ConversationLog").CreateCounter<long>("platform.conversation_log.replayed");
    private long _passes;

    /// <summary>Passes completed in this process (for tests and logs).</summary>
    public long CompletedPasses => Interlocked.Read(ref _passes);

    /// <summary>Asks for a pass; requests made while one waits are merged.</summary>
    public void Request() => _requests.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
            return;
        Request();
        while (!stoppingToken.IsCancellationRequested)
        {
            await WaitForRequestAsync(settings.Interval, stoppingToken);
            try
            {
                var (from, to, count) = await PassAsync(stoppingToken);
                Interlocked.Increment(ref _passes);
                logger.Log(count > 0 ? LogLevel.Information : LogLevel.Debug,
                    "Conversation log backfill replayed {Count} events, positions {From} to {To}", count, from, to);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Conversation log backfill failed; retrying in {Delay}", settings.RetryDelay);
                await Task.Delay(settings.RetryDelay, time, stoppingToken);
                Request();
            }
        }
    }

    private async Task WaitForRequestAsync(TimeSpan interval, CancellationToken stoppingToken)
    {
        if (interval <= TimeSpan.Zero)
        {
            await _requests.Reader.ReadAsync(stoppingToken);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var timer = time.CreateTimer(_ => timeout.Cancel(), null, interval, Timeout.InfiniteTimeSpan);
        try
        {
            await _requests.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass from the checkpoint to the head. Returns the positions read and how many events were replayed.</summary>
    public async Task<(long From, long To, int Count)> PassAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var start = await WithReplay((replay, ct) => replay.LoadCheckpointAsync(ct), cancellationToken);
        var after = start;
        var checkpoint = start;
        var count = 0;
        while (true)
        {
            var page = await feed.ReadAsync(after, settings.PageSize, cancellationToken);
            foreach (var entry in page.Items)
            {
                await ReplayAsync(entry.Event, cancellationToken);
                count++;
                after = entry.Position;
            }
            _replayed.Add(page.Items.Count);
            checkpoint = Checkpoint(checkpoint, page.Items, time.GetUtcNow() - settings.Settle);
            var saved = checkpoint;
            await WithReplay(async (replay, ct) => { await replay.SaveCheckpointAsync(saved, ct); return 0L; }, cancellationToken);
            if (page.Next is null || page.Items.Count == 0)
                return (start, after, count);
        }
    }

    // A scope (and so a unit of work) per event, as the bus gives each message; a write conflict with the live consumer
    // (optimistic concurrency) is tried again on a fresh scope, as the bus's retry would.
    private async Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WithReplay(async (replay, ct) => { await replay.ReplayAsync(e, ct); return 0L; }, cancellationToken);
                return;
            }
            catch (Exception exception) when (attempt < 5 && exception is not OperationCanceledException)
            {
                logger.LogDebug(exception, "Replaying {Type} {ConversationId}#{Seq} failed (attempt {Attempt}); trying again", e.Type, e.ConversationId, e.Seq, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), time, cancellationToken);
            }
        }
    }

    private async Task<long> WithReplay(Func<IConversationLogReplay, CancellationToken, Task<long>> action, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<IConversationLogReplay>(), cancellationToken);
    }

    /// <summary>
    /// How far the log is known to be applied after a page: up to the last event committed before <paramref name="settledBefore"/>,
    /// and no further than the first event committed after it (an append still in flight may yet appear below it).
    /// </summary>
    public static long Checkpoint(long current, IReadOnlyList<ConversationLogEntry> page, DateTimeOffset settledBefore)
    {
        foreach (var entry in page)
        {
            if ((entry.Event.CommittedAt ?? entry.Event.OccurredAt) > settledBefore)
                break;
            current = Math.Max(current, entry.Position);
        }
        return current;
    }

    Task IReceiveEndpointObserver.Ready(ReceiveEndpointReady ready)
    {
        Request();
        return Task.CompletedTask;
    }

    Task IReceiveEndpointObserver.Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    Task IReceiveEndpointObserver.Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    Task IReceiveEndpointObserver.Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}

public static class ConversationLogBackfillExtensions
{
    /// <summary>
    /// Backfill from Messaging's log with <typeparamref name="TReplay"/> (scoped): the feed client with this service's
    /// token (<see cref="ServiceTokenExtensions.AddPlatformServiceClient"/>), the background pass runner, and its trigger on
    /// the bus's endpoints becoming ready. Call after <c>AddPlatformBus</c>.
    /// </summary>
    public static IHostApplicationBuilder AddConversationLogBackfill<TReplay>(this IHostApplicationBuilder builder)
        where TReplay : class, IConversationLogReplay
    {
        builder.Services.AddOptions<ConversationLogOptions>().BindConfiguration(ConversationLogOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => !o.Enabled || !string.IsNullOrWhiteSpace(o.MessagingAddress), "ConversationLog:MessagingAddress (Messaging's internal URL) is required.")
            .ValidateOnStart();
        builder.AddPlatformServiceClient();
        builder.Services.AddHttpClient<ConversationLogClient>((services, http) =>
            {
                if (services.GetRequiredService<IOptions<ConversationLogOptions>>().Value.MessagingAddress is { Length: > 0 } address)
                    http.BaseAddress = new Uri(address.TrimEnd('/') + "/");
                http.Timeout = TimeSpan.FromSeconds(30);
            })
            .AddServiceToken(ConversationLogFeed.Scope);
        builder.Services.AddScoped<IConversationLogReplay, TReplay>();
        builder.Services.AddSingleton<ConversationLogBackfill>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConversationLogBackfill>());
        builder.Services.AddReceiveEndpointObserver(services => services.GetRequiredService<ConversationLogBackfill>());
        return builder;
    }
}
