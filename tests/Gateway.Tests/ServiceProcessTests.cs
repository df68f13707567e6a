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

/// <summary>The drain on SIGTERM (<c>Platform:ShutdownDelaySeconds</c>) of every host, seen on the Gateway.</summary>
public sealed class ShutdownDrainTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public async Task OnSigterm_ReadinessFailsAtOnce_RequestsAreStillServedWithConnectionClose_NewHubConnectionsGoElsewhere_UntilTheDelayEnds()
    {
        await using var gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = TestTokenIssuer.DefaultIssuer,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Platform:ShutdownDelaySeconds"] = "8",
        });
        using var client = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var before = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.False(before.Headers.ConnectionClose ?? false);

        var stopping = DateTime.UtcNow;
        gateway.BeginStop();
        var notReady = await Eventually.Returns(() => client.GetAsync("/health/ready"),
            response => response.StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(6), "readiness fails on SIGTERM");
        Assert.Contains("draining", await notReady.Content.ReadAsStringAsync());
        var served = await client.GetAsync("/health/live");
        Assert.True(DateTime.UtcNow - stopping < TimeSpan.FromSeconds(8), "still within the drain");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.True(served.Headers.ConnectionClose, "the client is asked to open its next request elsewhere");
        var hub = await client.PostAsync("/hubs/chat/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, hub.StatusCode);
        Assert.NotNull(hub.Headers.RetryAfter);

        await gateway.WaitForExitAsync();
        Assert.True(DateTime.UtcNow - stopping >= TimeSpan.FromSeconds(7.5), "the server kept serving for the delay");
    }
}
