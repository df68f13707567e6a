using System.Diagnostics.Metrics;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.Options;

namespace Platform.Gateway;

/// <summary>
/// The public edge's request rate limits (section <c>RateLimits</c>): each rule names the requests it covers and a
/// token bucket per user (or per client address for requests without a valid token, and for rules <c>By: Address</c>).
/// Every rule a request matches applies. A refused request gets 429 problem details with <c>Retry-After</c>.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public bool Enabled { get; set; } = true;

    /// <summary>Client addresses (CIDR) no limit applies to: trusted internal callers, such as a provisioning job.</summary>
    public List<string> ExemptNetworks { get; set; } = [];

    public Dictionary<string, RateLimitRule> Rules { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public enum RateLimitKey
{
    /// <summary>Per user when the request carries a valid token, else per client address.</summary>
    UserOrAddress,

    /// <summary>Per client address (IPv6: per /64), token or not: sign-in, registration, recovery.</summary>
    Address,

    /// <summary>Per request path, whoever calls: an incoming webhook's URL (its secret is its only credential).</summary>
    Path,
}

/// <summary>Whose requests a rule counts: bots (tokens with the <c>bot</c> role) have limits of their own.</summary>
public enum RateLimitCallers
{
    All,

    /// <summary>Everyone but bots (people, and requests without a token).</summary>
    Users,

    Bots,
}

public sealed class RateLimitRule
{
    /// <summary><c>"METHOD /route/{template}"</c>; <c>*</c> for any method; <c>{**rest}</c> for any remainder.</summary>
    public List<string> Requests { get; set; } = [];

    /// <summary>Requests allowed at once, after a quiet period.</summary>
    public int Burst { get; set; } = 1;

    /// <summary>One more request is allowed every this long, up to <see cref="Burst"/>.</summary>
    public TimeSpan Every { get; set; } = TimeSpan.FromSeconds(1);

    public RateLimitKey By { get; set; } = RateLimitKey.UserOrAddress;

    public RateLimitCallers Callers { get; set; } = RateLimitCallers.All;

    /// <summary>
    /// Requests carrying any of these query parameters are not counted: for <c>connect</c>, <c>id</c> marks the later
    /// requests of a connection already counted when it negotiated (a long-polling client's polls, a WebSocket's upgrade).
    /// </summary>
    public List<string> UnlessQuery { get; set; } = [];
}

/// <summary>Stops the start on a malformed rule or network, instead of failing requests.</summary>
public sealed class RateLimitOptionsValidation : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var errors = GatewayRateLimits.Validate(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Applies <see cref="RateLimitOptions"/> to every request before it is proxied or reaches the hub.</summary>
public sealed class GatewayRateLimits : IDisposable
{
    private readonly bool _enabled;
    private readonly List<IPNetwork> _exempt;
    private readonly List<Rule> _rules;
    private readonly Counter<long> _refused;

    private sealed record Rule(string Name, RateLimitKey By, RateLimitCallers Callers, IReadOnlyList<(string Method, TemplateMatcher Path)> Requests, IReadOnlyList<string> UnlessQuery, PartitionedRateLimiter<string> Limiter);

    public GatewayRateLimits(IOptions<RateLimitOptions> options, IMeterFactory meters)
    {
        var settings = options.Value;
        _enabled = settings.Enabled;
        _exempt = settings.ExemptNetworks.Select(IPNetwork.Parse).ToList();
        _rules = settings.Rules.Select(entry => new Rule(entry.Key, entry.Value.By, entry.Value.Callers, entry.Value.Requests.Select(Parse).ToList(), entry.Value.UnlessQuery,
            PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = entry.Value.Burst,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = entry.Value.Every,
                QueueLimit = 0,
                AutoReplenishment = true,
            })))).ToList();
        _refused = meters.Create("Platform.Gateway").CreateCounter<long>("platform.gateway.rate_limited",
            description: "Requests refused with 429, by rate-limit rule.");
    }

    public static IEnumerable<string> Validate(RateLimitOptions options)
    {
        foreach (var network in options.ExemptNetworks)
            if (!IPNetwork.TryParse(network, out _))
                yield return $"RateLimits:ExemptNetworks: '{network}' is not a network in CIDR notation.";
        foreach (var (name, rule) in options.Rules)
        {
            if (rule.Requests.Count == 0)
                yield return $"RateLimits:Rules:{name}: Requests names no request.";
            if (rule.Burst < 1)
                yield return $"RateLimits:Rules:{name}: Burst must be 1 or more.";
            if (rule.Every <= TimeSpan.Zero)
                yield return $"RateLimits:Rules:{name}: Every must be a positive time span.";
            foreach (var request in rule.Requests)
            {
                string? error = null;
                try
                {
                    Parse(request);
                }
                catch (Exception exception) when (exception is ArgumentException or FormatException)
                {
                    error = $"RateLimits:Rules:{name}: '{request}' is not \"METHOD /route\" ({exception.Message}).";
                }
                if (error is not null)
                    yield return error;
            }
        }
    }

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (!_enabled || _rules.Count == 0 || IsExempt(context.Connection.RemoteIpAddress))
        {
            await next();
            return;
        }
        List<RateLimitLease>? leases = null;
        try
        {
            foreach (var rule in _rules)
            {
                if (!Matches(rule, context.Request) || !Counts(rule.Callers, context.User))
                    continue;
                var lease = rule.Limiter.AttemptAcquire(Key(rule.By, context));
                (leases ??= []).Add(lease);
                if (!lease.IsAcquired)
                {
                    await RefuseAsync(context, rule, lease);
                    return;
                }
            }
        }
        finally
        {
            // Token buckets give nothing back on release: the leases only need disposing.
            leases?.ForEach(lease => lease.Dispose());
        }
        await next();
    }

    public void Dispose()
    {
        foreach (var rule in _rules)
            rule.Limiter.Dispose();
    }

    private static (string Method, TemplateMatcher Path) Parse(string request)
    {
        var parts = request.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || !parts[1].StartsWith('/'))
            throw new FormatException("expected a method, a space and a path starting with /");
        return (parts[0].ToUpperInvariant(), new TemplateMatcher(TemplateParser.Parse(parts[1].TrimStart('/')), []));
    }

    private static bool Matches(Rule rule, HttpRequest request)
    {
        foreach (var parameter in rule.UnlessQuery)
            if (request.Query.ContainsKey(parameter))
                return false;
        var path = request.Path.Value is { Length: > 1 } value ? value.TrimEnd('/') : request.Path.Value ?? "/";
        foreach (var (method, template) in rule.Requests)
            if ((method == "*" || string.Equals(method, request.Method, StringComparison.OrdinalIgnoreCase)) && template.TryMatch(path, []))
                return true;
        return false;
    }

    private static bool Counts(RateLimitCallers callers, System.Security.Claims.ClaimsPrincipal user) => callers switch
    {
        RateLimitCallers.Bots => IsBot(user),
        RateLimitCallers.Users => !IsBot(user),
        _ => true,
    };

    private static bool IsBot(System.Security.Claims.ClaimsPrincipal user) =>
        user.Claims.Any(claim => claim.Type is "role" or System.Security.Claims.ClaimTypes.Role && claim.Value == "bot");

    private static string Key(RateLimitKey by, HttpContext context)
    {
        if (by == RateLimitKey.Path)
            return "path:" + context.Request.Path.Value;
        if (by == RateLimitKey.UserOrAddress && context.User.FindFirst("sub")?.Value is { } userId)
            return "user:" + userId;
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
            return "address:unknown";
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        // One IPv6 host has a whole /64 to pick addresses from.
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            return "address:" + new IPNetwork(new IPAddress(address.GetAddressBytes()[..8].Concat(new byte[8]).ToArray()), 64);
        return "address:" + address;
    }

    private bool IsExempt(IPAddress? address)
    {
        if (address is null || _exempt.Count == 0)
            return false;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        return _exempt.Any(network => network.Contains(address));
    }

    private async Task RefuseAsync(HttpContext context, Rule rule, RateLimitLease lease)
    {
        _refused.Add(1, new KeyValuePair<string, object?>("rule", rule.Name));
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        var seconds = Platform.ServiceDefaults.RetryAfter.Set(context.Response, retryAfter);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"Too many requests of this kind ({rule.Name}). Try again in {seconds} s.",
                Type = "https://tools.ietf.org/html/rfc6585#section-4",
                Extensions = { ["rule"] = rule.Name, ["retryAfterSeconds"] = seconds },
            },
        });
    }
}
