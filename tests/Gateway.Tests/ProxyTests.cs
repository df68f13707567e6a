using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Gateway.Tests;

public sealed class ProxyTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>, IAsyncLifetime
{
    private RecordingDownstream _downstream = null!;

    public async Task InitializeAsync() => _downstream = await RecordingDownstream.StartAsync();

    public async Task DisposeAsync() => await _downstream.DisposeAsync();

    private ServiceFactory<Program> GatewayWithAllServicesAt(string address)
    {
        var factory = new ServiceFactory<Program>(infrastructure);
        foreach (var service in new[] { "identity", "messaging", "presence", "notifications", "media" })
            factory.WithSetting($"ReverseProxy:Clusters:{service}:Destinations:primary:Address", address);
        return factory;
    }

    [Fact]
    public async Task Request_ThroughTheGateway_ReachesTheServiceWithForwardedHeadersAndTheCallersTrace()
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url);
        using var client = gateway.CreateClient();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations/0190a1b2-0000-7000-8000-000000000001/messages?limit=20");
        request.Headers.Host = "chat.example.com";
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(_downstream.Received);
        Assert.Equal("/api/v1/conversations/0190a1b2-0000-7000-8000-000000000001/messages", received.Path);
        Assert.Equal("?limit=20", received.Query);
        Assert.Equal("chat.example.com", received.Headers["X-Forwarded-Host"]);
        Assert.Equal("http", received.Headers["X-Forwarded-Proto"]);
        Assert.Equal(traceId, received.Headers["traceparent"].Split('-')[1]);
    }

    [Theory]
    [InlineData("/api/v1/users", "POST")]
    [InlineData("/api/v1/users/me", "GET")]
    [InlineData("/api/v1/contacts/import", "POST")]
    [InlineData("/api/v1/invites", "POST")]
    [InlineData("/.well-known/openid-configuration", "GET")]
    [InlineData("/connect/token", "POST")]
    [InlineData("/connect/authorize", "GET")]
    [InlineData("/account/login", "GET")]
    [InlineData("/account/login", "POST")]
    [InlineData("/api/v1/conversations", "GET")]
    [InlineData("/api/v1/conversations/x/events", "GET")]
    [InlineData("/api/v1/conversations/x/occupancy", "GET")]
    [InlineData("/api/v1/calls/ice-servers", "GET")]
    [InlineData("/api/v1/presence", "GET")]
    [InlineData("/api/v1/notifications/preferences", "PUT")]
    [InlineData("/api/v1/push-subscriptions", "POST")]
    [InlineData("/api/v1/webhooks", "POST")]
    [InlineData("/api/v1/webhooks/0195f0a0-0000-7000-8000-000000000000/deliveries", "GET")]
    [InlineData("/api/v1/media", "POST")]
    [InlineData("/api/v1/link-previews", "GET")]
    public async Task EveryPublicPath_IsRoutedToAService(string path, string method)
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url);
        using var client = gateway.CreateClient();

        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(path, Assert.Single(_downstream.Received).Path);
    }

    [Fact]
    public async Task OpenApiDocument_OfAService_IsServedUnderItsName()
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url);
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/openapi/messaging.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/openapi/v1.json", Assert.Single(_downstream.Received).Path);
    }

    [Fact]
    public async Task Request_WhenTheServiceIsDown_Returns503ProblemDetailsWithRetryAfter_WithoutHanging()
    {
        await using var gateway = GatewayWithAllServicesAt($"http://127.0.0.1:{TestInfrastructure.UnusedPort()}/");
        using var client = gateway.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(5);

        var response = await client.GetAsync("/api/v1/conversations");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.Contains("messaging", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Request_WhenOneReplicaRefusesConnections_IsSentToAnotherWithItsBody_NeverFailing()
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url)
            .WithSetting("ReverseProxy:Clusters:messaging:Destinations:primary:Address", $"http://127.0.0.1:{TestInfrastructure.UnusedPort()}/")
            .WithSetting("ReverseProxy:Clusters:messaging:Destinations:replica2:Address", _downstream.Url);
        using var client = gateway.CreateClient();

        for (var i = 0; i < 10; i++)
        {
            var response = await client.PostAsJsonAsync("/api/v1/conversations/x/messages", new { clientMessageId = $"m{i}", text = "hello" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var received = _downstream.Received.Where(r => r.Method == "POST" && r.Path == "/api/v1/conversations/x/messages").ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("clientMessageId").GetString()));
    }

    [Theory]
    [InlineData("/health/ready")]
    [InlineData("/health/live")]
    [InlineData("/api/v1/health/ready")]
    [InlineData("/api/v1/users/../../../health/ready")]
    public async Task HealthEndpointsOfServices_AreNotReachableThroughTheGateway(string path)
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url);
        using var client = gateway.CreateClient();

        await client.GetAsync(path);

        Assert.DoesNotContain(_downstream.Received, r => r.Path.Contains("health", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task UnknownPath_Returns404ProblemDetails()
    {
        await using var gateway = GatewayWithAllServicesAt(_downstream.Url);
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/api/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(_downstream.Received);
    }
}
