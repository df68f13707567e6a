using System.Net;
using System.Text.Json;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// Health behaviour every service host must show, run against the real servers. A service's test project
/// derives from this (or <see cref="PostgresServiceHealthTests{TProgram}"/>) with its own <c>Program</c>.
/// </summary>
public abstract class ServiceHealthTests<TProgram>(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
    where TProgram : class
{
    protected static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    protected PlatformInfrastructure Infrastructure { get; } = infrastructure;

    protected virtual ServiceFactory<TProgram> CreateFactory() => new(Infrastructure);

    [Fact]
    public async Task Ready_WithItsStoreAndTheBrokerReachable_Returns200()
    {
        await using var factory = CreateFactory();
        using var client = factory.CreateClient();

        var checks = await Eventually.Returns(
            async () =>
            {
                var response = await client.GetAsync("/health/ready");
                return response.StatusCode == HttpStatusCode.OK ? await ReadChecks(response) : default;
            },
            found => found.ValueKind == JsonValueKind.Object && found.GetProperty("rabbitmq").GetProperty("status").GetString() == "Healthy",
            ReadyTimeout,
            "the service reports ready, with the broker connected");

        Assert.All(checks.EnumerateObject(), check => Assert.Equal("Healthy", check.Value.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Live_WhenTheBrokerIsUnreachable_StillReturns200()
    {
        await using var factory = CreateFactory()
            .WithSetting("ConnectionStrings:RabbitMq", $"amqp://platform:platform@127.0.0.1:{TestInfrastructure.UnusedPort()}/");
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ready_WhenTheBrokerIsUnreachable_StaysReady_AndReportsTheBrokerDegraded()
    {
        await using var factory = CreateFactory()
            .WithSetting("ConnectionStrings:RabbitMq", $"amqp://platform:platform@127.0.0.1:{TestInfrastructure.UnusedPort()}/");
        using var client = factory.CreateClient();

        // Requests still commit (events wait in the outbox) and consumers catch up later: no reason to leave the Service.
        // Ready once its own start-up work is done (Identity migrates its database first, slow on a loaded machine).
        var response = await Eventually.Returns(() => client.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "ready without the broker");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = await ReadChecks(response);
        Assert.Equal("Degraded", checks.GetProperty("rabbitmq").GetProperty("status").GetString());
    }

    protected static async Task<JsonElement> ReadChecks(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("checks").Clone();
    }
}

/// <summary>Health behaviour of a service that keeps its state in PostgreSQL.</summary>
public abstract class PostgresServiceHealthTests<TProgram>(PlatformInfrastructure infrastructure)
    : ServiceHealthTests<TProgram>(infrastructure)
    where TProgram : class
{
    [Fact]
    public async Task Ready_WhenPostgresIsUnreachable_Returns503()
    {
        await using var factory = CreateFactory().WithSetting(
            "ConnectionStrings:Postgres",
            $"Host=127.0.0.1;Port={TestInfrastructure.UnusedPort()};Username=platform;Password=platform;Database=platform;Timeout=2");
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var checks = await ReadChecks(response);
        Assert.Equal("Unhealthy", checks.GetProperty("postgres").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_WithPostgresReachable_ReportsPostgresHealthy()
    {
        await using var factory = CreateFactory();
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health/ready");

        var checks = await ReadChecks(response);
        Assert.Equal("Healthy", checks.GetProperty("postgres").GetProperty("status").GetString());
    }
}
