using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Tells Presence which connections this instance holds: <see cref="ConnectionOpened"/> and
/// <see cref="ConnectionClosed"/> as they happen (queued, so a slow broker never holds up a connection), an
/// <see cref="InstanceHeartbeat"/> every <see cref="RealtimeOptions.HeartbeatInterval"/>, and a last one marked
/// <c>Stopping</c> when the instance shuts down. An instance that dies without it is given up after Presence's TTL.
/// </summary>
public sealed class ConnectionReporter(
    IBus bus, GatewayInstance instance, ConnectionIndex connections, IOptions<RealtimeOptions> options, TimeProvider time,
    ILogger<ConnectionReporter> logger) : BackgroundService
{
    public static readonly IReadOnlySet<string> DeviceKinds = new HashSet<string>(StringComparer.Ordinal) { "web", "mobile", "desktop", "other" };

    private readonly Channel<object> _pending = Channel.CreateBounded<object>(new BoundedChannelOptions(1_000_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    public void Opened(RealtimeConnection connection, string deviceKind) => Queue(new ConnectionOpened
    {
        ConnectionId = connection.Id, UserId = connection.UserId, InstanceId = instance.Id, DeviceKind = deviceKind, OpenedAt = connection.OpenedAt,
    });

    public void Closed(RealtimeConnection connection) => Queue(new ConnectionClosed
    {
        ConnectionId = connection.Id, UserId = connection.UserId, InstanceId = instance.Id, ClosedAt = time.GetUtcNow(),
    });

    private void Queue(object message)
    {
        if (!_pending.Writer.TryWrite(message))
            logger.LogWarning("The connection report queue is full; {Type} dropped (Presence corrects it when the instance's heartbeat stops)", message.GetType().Name);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var heartbeats = HeartbeatAsync(stoppingToken);
        try
        {
            await foreach (var message in _pending.Reader.ReadAllAsync(stoppingToken))
                await PublishAsync(message, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await heartbeats;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // The goodbye: Presence ends this instance's connections now rather than after the TTL.
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await bus.Publish(Heartbeat(stopping: true), timeout.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException or MassTransitException)
        {
            logger.LogWarning(exception, "The stopping heartbeat could not be sent; Presence ends this instance's connections after its TTL");
        }
    }

    private async Task HeartbeatAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await PublishAsync(Heartbeat(stopping: false), stoppingToken);
            try
            {
                await Task.Delay(options.Value.HeartbeatInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private InstanceHeartbeat Heartbeat(bool stopping) =>
        new() { InstanceId = instance.Id, LiveConnections = connections.Count, SentAt = time.GetUtcNow(), Stopping = stopping };

    // Retries until published: a lost closing would leave its user online for as long as this instance lives.
    private async Task PublishAsync(object message, CancellationToken stoppingToken)
    {
        for (var attempt = 0; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                await bus.Publish(message, message.GetType(), timeout.Token);
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                if (attempt == 0)
                    logger.LogWarning(exception, "Publishing {Type} failed; retrying", message.GetType().Name);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6))), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
