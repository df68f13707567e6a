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
internal sealed class BusLifetime(IBusDepot depot, IOptions<MassTransitHostOptions> options, ILogger<BusLifetime> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _start;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _start = depot.Start(_stopping.Token);
        return _start.IsCompleted || options.Value.WaitUntilStarted ? _start : Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.Value.StopTimeout is { } limit)
            timeout.CancelAfter(limit);
        await _stopping.CancelAsync();
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

    public void Dispose() => _stopping.Dispose();
}
