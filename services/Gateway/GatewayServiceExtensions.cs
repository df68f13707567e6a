using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using MassTransit;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Platform.Gateway.Realtime;
using Platform.ServiceDefaults;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Platform.Gateway;

public sealed class ProxyOptions
{
    public const string Section = "Proxy";

    /// <summary>How long to wait for a downstream connection before answering 502.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);
}

public static class GatewayServiceExtensions
{
    public const string HubPath = "/hubs/chat";
    private const string CorsPolicy = "platform-origins";

    /// <summary>Routes and clusters come from the <c>ReverseProxy</c> configuration section.</summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RealtimeOptions>().BindConfiguration(RealtimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidation>();
        builder.Services.AddSingleton<GatewayRateLimits>();
        builder.AddWebApp();

        var configuration = builder.Configuration;
        builder.Services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms<SendAnswerTransforms>()
            .ConfigureHttpClient((_, handler) => handler.ConnectTimeout =
                (configuration.GetSection(ProxyOptions.Section).Get<ProxyOptions>() ?? new ProxyOptions()).ConnectTimeout);

        builder.Services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy => policy
            .WithOrigins(configuration.GetSection($"{RealtimeOptions.Section}:AllowedOrigins").Get<string[]>() ?? [])
            .AllowAnyHeader().AllowAnyMethod().AllowCredentials()));

        builder.Services.AddSignalR(hub =>
            {
                hub.MaximumReceiveMessageSize = configuration.GetValue($"{RealtimeOptions.Section}:MaximumReceiveMessageSize", 64 * 1024);
                hub.EnableDetailedErrors = false;
                hub.AddFilter<HubCallRateLimit>();
                hub.AddFilter<SignalRateLimit>();
            })
            .AddMessagePackProtocol();
        // A hub connection keeps its user for as long as it lives: keep only the claim the hub reads, not the whole
        // validated token with its parsed claims (a few kB per connection, most of which is idle).
        builder.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, jwt =>
        {
            var validated = jwt.Events?.OnTokenValidated;
            jwt.Events ??= new JwtBearerEvents();
            jwt.Events.OnTokenValidated = async context =>
            {
                if (validated is not null)
                    await validated(context);
                if (context.Request.Path.StartsWithSegments(HubPath) && context.Principal?.Identity is ClaimsIdentity identity)
                    context.Principal = new ClaimsPrincipal(new ClaimsIdentity(
                        identity.Claims.Where(claim => claim.Type == "sub").Select(claim => new Claim(claim.Type, claim.Value)),
                        identity.AuthenticationType, identity.NameClaimType, identity.RoleClaimType));
            };
        });
        builder.Services.AddSingleton<HubCallRateLimit>();
        builder.Services.AddSingleton<SignalRateLimit>();
        builder.Services.AddSingleton<CallAccess>();
        builder.Services.AddSingleton<HubLifetimeManager<ChatHub>, ChatHubLifetimeManager>();
        builder.Services.AddSingleton<ConnectionIndex>();
        builder.Services.AddSingleton<ConversationStreams>();
        builder.Services.AddSingleton<Replayer>();
        builder.Services.AddSingleton<PresenceWatchers>();
        builder.Services.AddSingleton<Platform.ServiceDefaults.IUserSessionsEndedListener, RevokedUserDisconnector>();
        builder.Services.AddSingleton<RealtimeMetrics>();
        builder.Services.AddSingleton<AckBatcher>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AckBatcher>());
        builder.Services.AddSingleton<ActivityReporter>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ActivityReporter>());
        builder.Services.AddSingleton<ConnectionReporter>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConnectionReporter>());
        // Messaging is reached where the proxy sends its routes: one address to configure.
        builder.Services.AddHttpClient<MessagingClient>(http =>
        {
            http.BaseAddress = new Uri(configuration["ReverseProxy:Clusters:messaging:Destinations:primary:Address"]
                ?? throw new InvalidOperationException("ReverseProxy:Clusters:messaging:Destinations:primary:Address is not set."));
            http.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddHttpClient(nameof(TypingBlocks), http =>
        {
            http.BaseAddress = new Uri(configuration["ReverseProxy:Clusters:identity:Destinations:primary:Address"]
                ?? throw new InvalidOperationException("ReverseProxy:Clusters:identity:Destinations:primary:Address is not set."));
            http.Timeout = TimeSpan.FromSeconds(5);
        });
        // One per instance: its cache is what BlocksChanged clears.
        builder.Services.AddSingleton<TypingBlocks>();
        builder.Services.AddHttpClient<PresenceClient>(http =>
        {
            http.BaseAddress = new Uri(configuration["ReverseProxy:Clusters:presence:Destinations:primary:Address"]
                ?? throw new InvalidOperationException("ReverseProxy:Clusters:presence:Destinations:primary:Address is not set."));
            http.Timeout = TimeSpan.FromSeconds(10);
        });
        return builder;
    }

    /// <summary>Each Gateway instance consumes conversation events and typing from its own queue, deleted when it goes away.</summary>
    public static void AddRealtimeConsumers(this IBusRegistrationConfigurator bus)
    {
        var instance = new GatewayInstance();
        bus.AddSingleton(instance);
        bus.AddConsumer<ConversationEventConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
            // One at a time: each conversation's events reach connections in the order they were published.
            endpoint.ConcurrentMessageLimit = 1;
        });
        bus.AddConsumer<TypingConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddConsumer<TypingBlocksConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddConsumer<ReceiptConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddConsumer<EphemeralMessageConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddConsumer<PresenceConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddConsumer<CallSignalConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
            // In the order sent: an offer before its ICE candidates.
            endpoint.ConcurrentMessageLimit = 1;
        });
        bus.AddConsumer<NotificationConsumer>().Endpoint(endpoint =>
        {
            endpoint.InstanceId = instance.Id;
            endpoint.Temporary = true;
        });
        bus.AddReceiveEndpointObserver<ResyncOnReconnect>();
    }

    /// <summary>
    /// CORS first, before authentication: a browser's preflight (OPTIONS, no token) of the hub's negotiate or of an API
    /// call must be answered, not refused with 401.
    /// </summary>
    public static WebApplication UseGatewayCors(this WebApplication app)
    {
        app.UseCors(CorsPolicy);
        return app;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.Use(RejectForeignOrigins);
        // SignalR closes its connections as the host starts stopping; new ones go to another instance meanwhile.
        app.Services.GetRequiredService<ShutdownDrain>().RefuseWhileDraining(HubPath);
        var limits = app.Services.GetRequiredService<GatewayRateLimits>();
        app.Use(limits.InvokeAsync);
        app.MapHub<ChatHub>(HubPath, hub =>
        {
            hub.CloseOnAuthenticationExpiration = true;
            hub.Transports = HttpTransportType.WebSockets | HttpTransportType.ServerSentEvents | HttpTransportType.LongPolling;
        });
        app.MapReverseProxy(proxy =>
        {
            proxy.Use(WriteProblemOnForwardingError);
            proxy.Use(TryAnotherDestinationWhenNoneWasReached);
            // YARP's default pipeline, which a custom one must name: affinity, balancing over the destinations the
            // active health checks pass, and passive health checks (a destination failing requests leaves the rotation).
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        // Last: the app's fallback takes only what no route above matched.
        app.MapWebApp();
        return app;
    }

    // A cluster with several destinations (replicas): a request whose connection could not even be opened (the replica
    // is stopping or restarting) never reached it, so it is sent to another destination, whatever its method; the body
    // has not been read yet. A request that reached a destination and failed there is never sent twice.
    private static async Task TryAnotherDestinationWhenNoneWasReached(HttpContext context, Func<Task> next)
    {
        var proxy = context.GetReverseProxyFeature();
        var candidates = proxy.AvailableDestinations;
        var tried = new HashSet<DestinationState>();
        while (true)
        {
            await next();
            var error = context.GetForwarderErrorFeature();
            if (error is null || context.Response.HasStarted || !NeverReached(error.Exception) || proxy.ProxiedDestination is not { } failed)
                return;
            tried.Add(failed);
            var others = candidates.Where(destination => !tried.Contains(destination)).ToList();
            if (others.Count == 0)
                return;
            proxy.AvailableDestinations = others;
            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK;
        }
    }

    private static bool NeverReached(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
            if (current is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }
                || current is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
                return true;
        return false;
    }

    // Browsers send Origin on WebSocket upgrades, which CORS does not cover: the hub accepts only allowed origins
    // (or the Gateway's own). Clients that are not browsers send no Origin and are not affected.
    private static Task RejectForeignOrigins(HttpContext context, Func<Task> next)
    {
        if (!context.Request.Path.StartsWithSegments(HubPath) || context.Request.Headers.Origin is not [{ } origin])
            return next();
        var allowed = context.RequestServices.GetRequiredService<IOptions<RealtimeOptions>>().Value.AllowedOrigins;
        var sameOrigin = Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Authority == context.Request.Host.Value;
        if (sameOrigin || allowed.Contains(origin, StringComparer.OrdinalIgnoreCase))
            return next();
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = 403, Title = "Origin not allowed", Detail = $"The origin {origin} may not open the realtime hub." },
        }).AsTask();
    }

    // YARP answers a failed forward with a bare status code; clients get problem details naming the service.
    private static async Task WriteProblemOnForwardingError(HttpContext context, Func<Task> next)
    {
        await next();

        var error = context.GetForwarderErrorFeature();
        if (error is null || context.Response.HasStarted)
            return;

        var service = context.GetReverseProxyFeature().Cluster?.Config.ClusterId ?? "upstream";
        var status = error.Error switch
        {
            ForwarderError.RequestTimedOut => StatusCodes.Status504GatewayTimeout,
            // Nothing answered (no destination, connection refused or reset): the service is down or restarting.
            ForwarderError.NoAvailableDestinations or ForwarderError.Request => StatusCodes.Status503ServiceUnavailable,
            _ => context.Response.StatusCode is >= 500 ? context.Response.StatusCode : StatusCodes.Status502BadGateway,
        };
        if (status == StatusCodes.Status499ClientClosedRequest)
            return;

        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = status,
                Title = "Service unavailable",
                Detail = $"The {service} service did not answer. Try again shortly.",
                Type = "https://tools.ietf.org/html/rfc9110#section-15.6." + (status - 499),
            },
        });
    }
}
