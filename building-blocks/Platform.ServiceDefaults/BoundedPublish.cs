using MassTransit;

namespace Platform.ServiceDefaults;

/// <summary>
/// Publishing on a request's path without an outbox (ephemeral signals, best-effort notices). While the broker is
/// unreachable MassTransit's publish waits for it to come back, so an unbounded publish held the request (or a hub
/// connection, whose invocations run one at a time) for as long as the outage lasted. These give up after a bound with
/// <see cref="BrokerUnavailableException"/> (a <c>503</c> with <c>Retry-After</c> when it reaches the client), at once
/// when the bus already knows the broker is gone (pass the <see cref="IBus"/>). A publish given up on a slow, not
/// absent, broker may still be delivered later: these are for messages whose loss or late arrival does no harm
/// (typing, a call signal the client retries, an ephemeral answer a bot may send again, shown twice then).
/// </summary>
public static class BoundedPublish
{
    /// <summary>Long enough for a broker under load to confirm; short enough that nobody waits for an outage.</summary>
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(3);

    public static async Task PublishWithinAsync<T>(this IPublishEndpoint bus, T message, TimeSpan within, CancellationToken cancellationToken)
        where T : class
    {
        // Known to be down (the bus itself, not a scoped endpoint, can tell): no need to wait for the bound.
        if (bus is IBusControl control && control.CheckHealth().Status == BusHealthStatus.Unhealthy)
            throw new BrokerUnavailableException($"The message broker is unreachable; a {typeof(T).Name} was not published.");
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(within);
        try
        {
            await bus.Publish(message, bound.Token);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BrokerUnavailableException($"The message broker did not take a {typeof(T).Name} within {within.TotalSeconds:0.#} s.", exception);
        }
        catch (Exception exception) when (exception is not OperationCanceledException && ExceptionStatusCodes.IsDependencyOutage(exception))
        {
            throw new BrokerUnavailableException($"The message broker refused a {typeof(T).Name}: {exception.Message}", exception);
        }
    }

    public static Task PublishWithinAsync<T>(this IPublishEndpoint bus, T message, CancellationToken cancellationToken) where T : class =>
        bus.PublishWithinAsync(message, DefaultBound, cancellationToken);
}

/// <summary>The broker did not take a message in time (unreachable, or not confirming): try again shortly.</summary>
public sealed class BrokerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
