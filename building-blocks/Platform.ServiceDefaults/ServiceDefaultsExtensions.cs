using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Platform.ServiceDefaults;

/// <summary>What every Platform host gets: telemetry, health, problem details, JSON, forwarded headers, shutdown.</summary>
public static class ServiceDefaultsExtensions
{
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        DevelopmentSecrets.RefuseOutsideDevelopment(builder);
        builder.AddQuietLibraryLogs();
        builder.AddPlatformTelemetry();

        builder.Services.AddSingleton<ShutdownDrain>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ShutdownDrain>());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(ShutdownDrain.HealthCheckName,
            services => services.GetRequiredService<ShutdownDrain>(), failureStatus: null, tags: [HealthEndpoints.ReadyTag]));
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
            context.ProblemDetails.Extensions.TryAdd("traceId", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
            if (context.ProblemDetails.Status == StatusCodes.Status503ServiceUnavailable)
            {
                // Whatever made it unavailable (a dependency, a proxy hop), the client learns when to come back.
                if (!context.HttpContext.Response.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.RetryAfter))
                    context.HttpContext.Response.Headers.RetryAfter = ExceptionStatusCodes.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (context.Exception is not null)
                    context.ProblemDetails.Detail ??= "A service this request needs is unavailable for the moment; try again shortly.";
            }
        });
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            options.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        });
        builder.Services.AddOpenApi();
        // Kestrel's limits from configuration (Kestrel:Limits:MaxRequestLineSize, ...), e.g. for long query strings.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel =>
            builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits));

        builder.Services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto
                | ForwardedHeaders.XForwardedHost | ForwardedHeaders.XForwardedPrefix;
            // Services sit behind the Gateway; only its hops (loopback and private networks by default)
            // may tell a service what the public scheme and host are.
            options.KnownIPNetworks.Clear();
            options.KnownProxies.Clear();
            var trusted = builder.Configuration.GetSection("ForwardedHeaders:TrustedNetworks").Get<string[]>()
                ?? ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
            foreach (var network in trusted)
                options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });

        builder.Services.Configure<HostOptions>(options =>
            options.ShutdownTimeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("Platform:ShutdownTimeoutSeconds", 25)));

        builder.Services.AddSingleton(TimeProvider.System);
        return builder;
    }

    /// <summary>
    /// Puts the shared middleware first in the pipeline and maps <c>/health/live</c>, <c>/health/ready</c>,
    /// <c>/metrics</c> and the OpenAPI document. Call it right after <c>Build()</c>.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseForwardedHeaders();
        app.Use(app.Services.GetRequiredService<ShutdownDrain>().CloseConnectionsWhileDraining);
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = ExceptionStatusCodes.Select });
        app.UseStatusCodePages();

        // Authentication must run after the forwarded headers are applied, so it is placed here
        // explicitly rather than left to WebApplication's implicit placement at the very start.
        if (app.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>() is not null)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        app.MapPlatformHealthChecks();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }
}
