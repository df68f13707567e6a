using Npgsql;
using Xunit;

namespace Platform.Testing;

/// <summary>A fresh, empty database on the test run's PostgreSQL server, dropped afterwards.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private string? _adminConnectionString;

    public string Name { get; } = "test_" + Guid.NewGuid().ToString("N")[..20];

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var endpoints = await TestInfrastructure.GetAsync();
        _adminConnectionString = endpoints.PostgresConnectionString;
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        try
        {
            await connection.OpenAsync();
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            throw new InvalidOperationException(
                $"Cannot reach the test PostgreSQL server ({Describe(_adminConnectionString)}): {exception.Message}. " + TestInfrastructure.HowToStart,
                exception);
        }

        await using (var create = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", connection))
            await create.ExecuteNonQueryAsync();
        ConnectionString = new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = Name }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_adminConnectionString is null || ConnectionString.Length == 0)
            return;
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    private static string Describe(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{settings.Host}:{settings.Port}";
    }
}
