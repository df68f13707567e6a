using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Platform.ServiceDefaults;

namespace Platform.Identity.Domain;

/// <summary>
/// Password hashing in turns: at most <see cref="IdentityServiceOptions.PasswordWorkOptions.Concurrency"/> hashes or
/// verifies at once (PBKDF2-HMAC-SHA512 at 210,000 iterations is tens of milliseconds of a core each), the rest waiting
/// in arrival order without holding a thread or a database connection; beyond
/// <see cref="IdentityServiceOptions.PasswordWorkOptions.QueueLimit"/> waiting, a request is refused at once
/// (<see cref="ServiceBusyException"/>: 503 with Retry-After). Without turns, 50 sign-ups at once filled every thread
/// with hashing, the service's own database connections timed out after 15 s and the requests failed with 503 then.
/// </summary>
public sealed class PasswordWork : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;

    public PasswordWork(IOptions<IdentityServiceOptions> options)
    {
        var settings = options.Value.PasswordWork;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.Concurrency > 0 ? settings.Concurrency : Environment.ProcessorCount,
            QueueLimit = settings.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Waits for a turn; dispose the result when the hashing (and what must follow it at once) is done.</summary>
    public async Task<IDisposable> TurnAsync(CancellationToken cancellationToken = default)
    {
        var lease = await _limiter.AcquireAsync(1, cancellationToken);
        if (lease.IsAcquired)
            return lease;
        lease.Dispose();
        throw new ServiceBusyException("Too many sign-ins and sign-ups at once; try again in a moment.");
    }

    public void Dispose() => _limiter.Dispose();
}
