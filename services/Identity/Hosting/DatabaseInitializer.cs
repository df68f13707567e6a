using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Platform.Identity.Data;

namespace Platform.Identity.Hosting;

/// <summary>Set once migrations are applied and the seeds are in place; readiness and the outbox relay wait for it.</summary>
public sealed class DatabaseReadiness : IHealthCheck
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompleted;

    internal void MarkReady() => _ready.TrySetResult();

    public Task WaitAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(IsReady
            ? HealthCheckResult.Healthy("Migrations applied, roles and clients seeded.")
            : HealthCheckResult.Unhealthy("Migrations are not applied yet (waiting for PostgreSQL)."));
}

/// <summary>
/// Applies the EF Core migrations and the seeds (roles, OIDC clients, demo users) in the background, retrying while
/// PostgreSQL is unreachable: the host starts at once and reports not-ready until this has succeeded.
/// EF Core takes a database lock while migrating, so instances starting together do not race.
/// </summary>
public sealed class DatabaseInitializer(
    IServiceScopeFactory scopes,
    DatabaseReadiness readiness,
    ILogger<DatabaseInitializer> logger) : BackgroundService
{
    public const string AdminRole = "admin";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var delay = TimeSpan.FromMilliseconds(500);
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await InitializeAsync(stoppingToken);
                readiness.MarkReady();
                logger.LogInformation("Identity database ready after {Attempts} attempt(s)", attempt);
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Identity database not ready (attempt {Attempt}): {Message}; retrying in {Delay}",
                    attempt, exception.Message, delay);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 15_000));
            }
        }
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        await services.GetRequiredService<IdentityDb>().Database.MigrateAsync(cancellationToken);

        var roles = services.GetRequiredService<RoleManager<IdentityRole<Guid>>>();
        if (!await roles.RoleExistsAsync(AdminRole))
            await roles.CreateAsync(new IdentityRole<Guid>(AdminRole) { Id = Guid.CreateVersion7() });

        await services.GetRequiredService<ClientSeeder>().SeedAsync(cancellationToken);
        await services.GetRequiredService<DemoUserSeeder>().SeedAsync(cancellationToken);
    }
}
