using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.ServiceDefaults;

/// <summary>
/// A graceful stop for hosts run without a <c>preStop</c> pause (Kubernetes has one): on SIGTERM, readiness answers 503
/// at once and every response asks its client to close the connection, while requests are still served for
/// <c>Platform:ShutdownDelaySeconds</c> (0, off, by default). Load balancers and the Gateway's health checks take the
/// instance out meanwhile, and no request is written onto a kept-alive connection the server is about to close.
/// </summary>
public sealed class ShutdownDrain(IHostApplicationLifetime lifetime, IConfiguration configuration, ILogger<ShutdownDrain> logger)
    : IHostedLifecycleService, IHealthCheck
{
    public const string HealthCheckName = "draining";

    private readonly TimeSpan _delay = TimeSpan.FromSeconds(configuration.GetValue("Platform:ShutdownDelaySeconds", 0.0));

    /// <summary>Stopping, and still serving for the delay: long-lived connections should be opened elsewhere.</summary>
    public bool Draining => _delay > TimeSpan.Zero && lifetime.ApplicationStopping.IsCancellationRequested;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_delay <= TimeSpan.Zero)
            return;
        logger.LogInformation("Stopping: not ready, still serving for {Delay} before the server stops", _delay);
        try
        {
            await Task.Delay(_delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out first.
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Draining ? HealthCheckResult.Unhealthy("The host is stopping.") : HealthCheckResult.Healthy());

    private readonly List<PathString> _longLived = [];

    /// <summary>
    /// Paths that open long-lived connections (a SignalR hub): refused while draining (503, Retry-After), so clients open
    /// them on another instance. Those already open are closed when the host starts stopping; one opened during the
    /// drain would hold the stop until its timeout.
    /// </summary>
    public void RefuseWhileDraining(PathString path) => _longLived.Add(path);

    /// <summary>While draining, answers with <c>Connection: close</c>, so the client opens its next request elsewhere.</summary>
    public Task CloseConnectionsWhileDraining(HttpContext context, Func<Task> next)
    {
        if (!Draining)
            return next();
        context.Response.Headers.Connection = "close";
        if (!_longLived.Any(path => context.Request.Path.StartsWithSegments(path)))
            return next();
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = 503, Title = "Instance stopping", Detail = "This instance is stopping: connect again (to another instance)." },
        }).AsTask();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
