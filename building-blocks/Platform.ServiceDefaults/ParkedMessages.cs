using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Platform.ServiceDefaults;

/// <summary>
/// Counts the messages a consumer gave up on, which MassTransit then moves to the endpoint's <c>_error</c> queue
/// (<c>platform.bus.parked</c>, by queue; alerted on), and logs each as an error with the way back. Each endpoint's
/// count starts at 0 when it is ready, so the first parking is an increase Prometheus sees.
/// </summary>
public sealed class ParkedMessages(IMeterFactory meters, ILogger<ParkedMessages> logger) : IReceiveObserver, IReceiveEndpointObserver
{
    private readonly Counter<long> _parked = meters.Create(Telemetry.SourcePrefix + "Bus").CreateCounter<long>(
        "platform.bus.parked", "{message}", "Messages a consumer gave up on, moved to the endpoint's _error queue");

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class
    {
        var queue = QueueOf(context.ReceiveContext.InputAddress);
        _parked.Add(1, new KeyValuePair<string, object?>("queue", queue));
        logger.LogError(exception,
            "{Consumer} gave up on {MessageType} {MessageId}; it is parked in {Queue}_error (replay: scripts/bus.sh replay {Queue})",
            consumerType, typeof(T).Name, context.MessageId, queue, queue);
        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        _parked.Add(0, new KeyValuePair<string, object?>("queue", QueueOf(ready.InputAddress)));
        return Task.CompletedTask;
    }

    private static string QueueOf(Uri? address) => address?.AbsolutePath.Split('/')[^1] ?? "unknown";

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    public Task PreReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;
}
