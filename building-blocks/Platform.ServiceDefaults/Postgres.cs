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
    public static IHostApplicationBuilder AddPlatformPostgres(this IHostApplicationBuilder builder)
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
