using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Realtime;

/// <summary>Each connection may call the hub <see cref="RealtimeOptions.CallsPerSecond"/> times a second; beyond that a call fails, the connection stays.</summary>
public sealed class HubCallRateLimit(IOptions<RealtimeOptions> options) : IHubFilter
{
    private readonly ConcurrentDictionary<string, TokenBucketRateLimiter> _limiters = new();

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var limiter = _limiters.GetOrAdd(invocationContext.Context.ConnectionId, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Value.CallsPerSecond,
            TokensPerPeriod = options.Value.CallsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            // No timer per connection (an idle connection costs nothing): the bucket is refilled for the time that
            // passed when the connection calls.
            AutoReplenishment = false,
        }));
        limiter.TryReplenish();
        using var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired)
            throw new HubException($"Rate limit: at most {options.Value.CallsPerSecond} calls per second per connection.");
        return await next(invocationContext);
    }

    public Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        if (_limiters.TryRemove(context.Context.ConnectionId, out var limiter))
            limiter.Dispose();
        return next(context, exception);
    }
}
