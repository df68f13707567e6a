using System.Data.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Platform.ServiceDefaults;

public static class Postgres
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Registers the service's <see cref="NpgsqlDataSource"/> from <c>ConnectionStrings:Postgres</c> and a
    /// readiness check on it. Stores (Marten, EF Core) are built on this data source.
    /// </summary>
    /// <param name="builder">The service's host builder.</param>
    /// <param name="resetOnClose">
    /// <see langword="false"/> for a service whose code leaves nothing on a database session beyond its transactions (no
    /// session-level advisory lock held after use, <c>SET</c> without <c>LOCAL</c>, <c>LISTEN</c>, temporary table or
    /// cursor left open): a connection going back to the pool is then not reset. Npgsql's reset is seven statements
    /// (<c>SET SESSION AUTHORIZATION DEFAULT</c>, <c>RESET ALL</c>, <c>pg_advisory_unlock_all()</c>, ...) sent before
    /// the connection's next command: about 5.7 resets and 9% of PostgreSQL's execution time per message in the
    /// benchmark. A connection string that names <c>No Reset On Close</c> decides instead.
    /// </param>
    public static IHostApplicationBuilder AddPlatformPostgres(this IHostApplicationBuilder builder, bool resetOnClose = true)
    {
        var applicationName = builder.Environment.ApplicationName;
        // Resolved when first needed, so configuration added late (tests, orchestrators) is honoured.
        builder.Services.AddSingleton(services =>
        {
            var connectionString = services.GetRequiredService<IConfiguration>().GetConnectionString(ConnectionStringName);
            if (string.IsNullOrWhiteSpace(connectionString))
                throw new InvalidOperationException(
                    $"ConnectionStrings:{ConnectionStringName} is not set. Set it in configuration or as the environment variable ConnectionStrings__{ConnectionStringName}.");

            var settings = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = applicationName };
            // A database that does not answer must fail readiness quickly, not hang the probe.
            if (!connectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
                settings.Timeout = 5;
            // Statements run again and again (Marten's inserts and loads, the outbox's, the consumers'): prepared on
            // each pooled connection after their second use, PostgreSQL parses and plans them once instead of on every
            // execution (about a quarter of its CPU per message in the benchmark). Set in the connection string to change.
            if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
                (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages) = (200, 2);

            if (!resetOnClose && !connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
                settings.NoResetOnClose = true;

            return new NpgsqlDataSourceBuilder(settings.ConnectionString)
                .UseLoggerFactory(services.GetRequiredService<ILoggerFactory>())
                .Build();
        });
        builder.Services.AddSingleton<DbDataSource>(services => services.GetRequiredService<NpgsqlDataSource>());

        builder.Services.AddHealthChecks().AddNpgSql(
            dbDataSourceFactory: services => services.GetRequiredService<NpgsqlDataSource>(),
            name: "postgres",
            tags: [HealthEndpoints.ReadyTag],
            timeout: TimeSpan.FromSeconds(5));
        return builder;
    }
}
