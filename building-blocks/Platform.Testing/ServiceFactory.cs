using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Platform.Testing;

/// <summary>
/// Hosts one service in-process against the class's database and virtual host. Settings given with
/// <see cref="WithSetting"/> win over the defaults; the "Testing" environment keeps local development files out.
/// </summary>
public class ServiceFactory<TProgram> : WebApplicationFactory<TProgram> where TProgram : class
{
    private readonly Dictionary<string, string?> _settings;
    private readonly List<Action<IServiceCollection>> _services = [];

    public ServiceFactory(PlatformInfrastructure infrastructure)
    {
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = TestTokenIssuer.DefaultIssuer,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Bus:RetryMinIntervalMs"] = "20",
            ["Bus:RetryMaxIntervalMs"] = "200",
            ["Bus:OutageRetryMaxIntervalMs"] = "1000",
            // A service on its own has no Messaging to backfill from (tests of the backfill turn it on with an address).
            ["ConversationLog:Enabled"] = "false",
            ["ServiceClient:ClientId"] = "test-service",
            ["ServiceClient:ClientSecret"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
        };
    }

    public ServiceFactory<TProgram> WithSetting(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    /// <summary>Replaces services after the host registered its own, e.g. a <c>FakeTimeProvider</c> for <c>TimeProvider</c>.</summary>
    public ServiceFactory<TProgram> WithServices(Action<IServiceCollection> configure)
    {
        _services.Add(configure);
        return this;
    }

    /// <summary>Runs <paramref name="action"/> with a scope of the service's container (its stores, its hosted services).</summary>
    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
            builder.UseSetting(key, value);
        builder.ConfigureTestServices(services => _services.ForEach(configure => configure(services)));
    }
}
