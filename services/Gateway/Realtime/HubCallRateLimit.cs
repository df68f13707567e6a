using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Realtime;

/// <summary>Each connection may call the hub <see cref="RealtimeOptions.CallsPerSecond"/> times a second; beyond that a call fails, the connection stays.</summary>
public sealed class HubCallRateLimit(IOptions<RealtimeOptions> options) : IHubFilter
{
    private readonly ConnectionBuckets _buckets = new(() => (options.Value.CallsPerSecond, options.Value.CallsPerSecond));

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (!_buckets.TryTake(invocationContext.Context.ConnectionId))
            throw new HubException($"Rate limit: at most {options.Value.CallsPerSecond} calls per second per connection.");
        return await next(invocationContext);
    }

    public Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        _buckets.Forget(context.Context.ConnectionId);
        return next(context, exception);
    }
}

/// <summary>
/// A token bucket per connection (<c>Limit</c> tokens, <c>PerSecond</c> added a second). No timer per connection, so an
/// idle connection costs nothing: a bucket is refilled for the time that passed when its connection calls.
/// </summary>
public sealed class ConnectionBuckets(Func<(int Limit, int PerSecond)> settings)
{
    private readonly ConcurrentDictionary<string, TokenBucketRateLimiter> _limiters = new();

    /// <summary>Takes a token of the connection's bucket; false when it is empty.</summary>
    public bool TryTake(string connectionId)
    {
        var limiter = _limiters.GetOrAdd(connectionId, _ =>
        {
            var (limit, perSecond) = settings();
            return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = limit,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = false,
            });
        });
        limiter.TryReplenish();
        using var lease = limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    /// <summary>Drops a closed connection's bucket.</summary>
    public void Forget(string connectionId)
    {
        if (_limiters.TryRemove(connectionId, out var limiter))
            limiter.Dispose();
    }
}
