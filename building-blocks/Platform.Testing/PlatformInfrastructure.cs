using Xunit;

namespace Platform.Testing;

/// <summary>
/// A test class's own database and virtual host on the run's servers. Use it as a class fixture:
/// <c>IClassFixture&lt;PlatformInfrastructure&gt;</c>.
/// </summary>
public sealed class PlatformInfrastructure : IAsyncLifetime
{
    public PostgresDatabase Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public Task InitializeAsync() => Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync());

    public Task DisposeAsync() => Task.WhenAll(Database.DisposeAsync(), VirtualHost.DisposeAsync());
}
