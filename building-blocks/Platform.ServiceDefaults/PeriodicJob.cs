using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.ServiceDefaults;

/// <summary>
/// The one shape of work a service does on a timer (sweeps, relays, retention, dispatchers): a pass every
/// <see cref="Interval"/> on <see cref="Clock"/>, until the host stops. Every replica runs its own job, so a pass must be safe to run
/// concurrently with another replica's (claim rows, or make each change once). A failed pass is logged and counted and
/// the next one runs after the interval; nothing else stops the loop.
/// </summary>
/// <remarks>
/// Metrics: <c>platform_job_passes_total{job, outcome}</c> (outcome <c>ok</c> or <c>failed</c>) and
/// <c>platform_job_pass_duration_seconds{job}</c>, where <c>job</c> is the class name.
/// </remarks>
public abstract class PeriodicJob : BackgroundService
{
    public const string MeterName = "Platform.Jobs";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Passes = Meter.CreateCounter<long>("platform_job_passes_total", description: "Passes of periodic jobs");
    private static readonly Histogram<double> Durations = Meter.CreateHistogram<double>("platform_job_pass_duration_seconds", "s", "Duration of periodic jobs' passes");

    protected abstract ILogger Logger { get; }

    /// <summary>The clock of the ticks (the service's <see cref="TimeProvider"/>, which tests move); the real one by default.</summary>
    protected virtual TimeProvider Clock => TimeProvider.System;

    /// <summary>The time between the starts of two passes.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>Whether the first pass runs as the host starts (the default) or after one interval.</summary>
    protected virtual bool RunsAtStart => true;

    /// <summary>The job's name in logs and metrics.</summary>
    protected virtual string Name => GetType().Name;

    /// <summary>One pass of the job.</summary>
    protected abstract Task RunPassAsync(CancellationToken cancellationToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Ticks at a fixed rate on the clock (a pass longer than the interval is followed at once by the next): a moved
        // clock fires the tick that is due whenever it moves, also while a pass runs.
        using var timer = new PeriodicTimer(Interval, Clock);
        try
        {
            if (RunsAtStart)
                await PassAsync(stoppingToken);
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await PassAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task PassAsync(CancellationToken stoppingToken)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            await RunPassAsync(stoppingToken);
        }
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
        {
            outcome = "failed";
            Logger.LogWarning(exception, "{Job} failed; the next pass runs in {Interval}", Name, Interval);
        }
        Passes.Add(1, new KeyValuePair<string, object?>("job", Name), new KeyValuePair<string, object?>("outcome", outcome));
        Durations.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("job", Name));
    }
}
