using System.ComponentModel.DataAnnotations;
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
    /// <summary>Routes and clusters come from the <c>ReverseProxy</c> configuration section.</summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProxyOptions>()
            .BindConfiguration(ProxyOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        var configuration = builder.Configuration;
        builder.Services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .ConfigureHttpClient((_, handler) => handler.ConnectTimeout =
                (configuration.GetSection(ProxyOptions.Section).Get<ProxyOptions>() ?? new ProxyOptions()).ConnectTimeout);
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.MapReverseProxy(proxy => proxy.Use(WriteProblemOnForwardingError));
        return app;
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
            ForwarderError.NoAvailableDestinations => StatusCodes.Status503ServiceUnavailable,
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
