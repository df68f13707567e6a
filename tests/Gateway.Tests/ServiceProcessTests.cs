using System.Net;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Gateway.Tests;

/// <summary>The Gateway and a service as separate processes, over real HTTP, as they run in production.</summary>
public sealed class ServiceProcessTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public async Task GatewayProcess_ForwardsToALiveServiceProcess_AndAnswers503OnceItStops()
    {
        var common = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = TestTokenIssuer.DefaultIssuer,
            ["Auth:RequireHttpsMetadata"] = "false",
        };
        await using var identity = await ServiceProcess.StartAsync("Identity", common);
        await using var gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(common)
        {
            ["ReverseProxy:Clusters:identity:Destinations:primary:Address"] = identity.BaseAddress.ToString(),
        });
        using var client = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

        var document = await client.GetAsync("/openapi/identity.json");

        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        var openApi = JsonDocument.Parse(await document.Content.ReadAsStringAsync()).RootElement;
        Assert.StartsWith("Identity", openApi.GetProperty("info").GetProperty("title").GetString());
        // The service built its public URL from the Gateway's forwarded headers.
        Assert.Equal(gateway.BaseAddress.ToString(), openApi.GetProperty("servers")[0].GetProperty("url").GetString());

        await identity.StopAsync();
        var down = await client.GetAsync("/openapi/identity.json");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.NotNull(down.Headers.RetryAfter);
        Assert.Equal("application/problem+json", down.Content.Headers.ContentType?.MediaType);
    }
}
