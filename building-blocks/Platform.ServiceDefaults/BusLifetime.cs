using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Platform.ServiceDefaults;

/// <summary>
/// Starts the bus without waiting for the broker (<see cref="MassTransitHostOptions.WaitUntilStarted"/> is false: the
/// host serves while the broker is away) and stops it even when its start has not finished. MassTransit's own hosted
/// service does not: <c>MassTransitBus.StopAsync</c> before the start completes logs "Not Started" and returns, then
/// the start completes and the receive endpoints consume on with the host's container disposed, failing every message
/// they take (seen as a second replica in tests stealing half a queue's messages; in a process that exits, until it
/// exits). Here stopping first cancels a start still under way (MassTransit then stops what it started), waits for it,
/// and stops the bus, all within <see cref="MassTransitHostOptions.StopTimeout"/>.
/// </summary>
internal sealed class BusLifetime(IBusDepot depot, IOptions<MassTransitHostOptions> options, ILogger<BusLifetime> logger) : IHostedService, IAsyncDisposable
{
    // Never disposed: it has no timer, and a stop or a disposal may come in any order, more than once.
    private readonly CancellationTokenSource _stopping = new();
    private Task? _start;
    private int _stopped;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _start = depot.Start(_stopping.Token);
        return _start.IsCompleted || options.Value.WaitUntilStarted ? _start : Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.Value.StopTimeout is { } limit)
            timeout.CancelAfter(limit);
        _stopping.Cancel();
        if (_start is { IsCompleted: false } start)
        {
            try
            {
                await start.WaitAsync(timeout.Token);
            }
            catch (Exception exception)
            {
                // Canceled or faulted: whatever it had started is stopped below; past the timeout, as much as can be.
                logger.LogDebug(exception, "The bus is stopping before its start completed");
            }
        }
        await depot.Stop(timeout.Token);
    }

    /// <summary>A host disposed without being stopped (a failed start) stops its bus all the same, as MassTransit's did.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
