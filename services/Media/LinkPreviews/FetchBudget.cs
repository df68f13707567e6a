using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Platform.Media.LinkPreviews;

/// <summary>
/// How many pages Media fetches for one user, and from one site, however the fetch was asked for (the preview API or
/// the URLs of posted and edited messages). Cached previews cost nothing. Without it, posting messages full of URLs
/// would make Media fetch any web site as often as someone likes.
/// </summary>
public sealed class FetchBudget : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perUser;
    private readonly PartitionedRateLimiter<string> _perSite;

    public FetchBudget(IOptions<LinkPreviewOptions> options)
    {
        var settings = options.Value;
        _perUser = PerMinute(settings.FetchesPerUserPerMinute);
        _perSite = PerMinute(settings.FetchesPerSitePerMinute);
    }

    /// <summary>Takes one fetch for <paramref name="userId"/> from <paramref name="site"/>'s host; throws 429 when either is spent.</summary>
    public void Take(Guid userId, Uri site)
    {
        using var user = _perUser.AttemptAcquire(userId.ToString());
        if (!user.IsAcquired)
            throw new PreviewFailedException(StatusCodes.Status429TooManyRequests, "Too many previews",
                "This user's link previews are limited; try again in a minute.")
            { RetryAfter = RetryAfter(user) };
        using var host = _perSite.AttemptAcquire(site.IdnHost.ToLowerInvariant());
        if (!host.IsAcquired)
            throw new PreviewFailedException(StatusCodes.Status429TooManyRequests, "Too many previews",
                $"Pages of {site.IdnHost} are fetched at a limited rate; try again in a minute.")
            { RetryAfter = RetryAfter(host) };
    }

    public void Dispose()
    {
        _perUser.Dispose();
        _perSite.Dispose();
    }

    private static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);

    // A burst of the minute's allowance, refilled evenly over the minute.
    private static PartitionedRateLimiter<string> PerMinute(int perMinute) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
}
