using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Platform.Testing;

/// <summary>
/// Hosts one service in-process against the class's database and virtual host. Settings given with
/// <see cref="WithSetting"/> win over the defaults; the "Testing" environment keeps local development files out.
/// </summary>
public class ServiceFactory<TProgram> : WebApplicationFactory<TProgram> where TProgram : class
{
    private readonly Dictionary<string, string?> _settings;

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
        };
    }

    public ServiceFactory<TProgram> WithSetting(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
            builder.UseSetting(key, value);
    }
}
