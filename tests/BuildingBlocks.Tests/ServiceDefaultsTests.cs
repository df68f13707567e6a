using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.BuildingBlocks.Tests;

public sealed class ServiceDefaultsTests : IAsyncLifetime
{
    private TestTokenIssuer _issuer = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    private sealed record Draft(string Title, int Count);

    public async Task InitializeAsync()
    {
        _issuer = await TestTokenIssuer.StartAsync();
        _app = AuthenticatedHost.CreateBuilder(_issuer).Build();
        _app.MapDefaultEndpoints();
        _app.MapGet("/boom", string () => throw new InvalidOperationException("secret internals"));
        _app.MapGet("/store", async () =>
        {
            // A store that is down (a port where nothing listens), as during a PostgreSQL restart.
            await using var connection = new Npgsql.NpgsqlConnection(
                $"Host=127.0.0.1;Port={TestInfrastructure.UnusedPort()};Username=x;Password=x;Timeout=2");
            await connection.OpenAsync();
            return "unreachable";
        });
        _app.MapPost("/drafts", (Draft draft) => TypedResults.Ok(draft));
        _app.MapGet("/me", (HttpContext context) => new { name = context.User.Identity?.Name, admin = context.User.IsInRole("admin") })
            .RequireAuthorization();
        _app.MapGet("/admin", () => "ok").RequireAuthorization(Authentication.AdminPolicy);
        await _app.StartAsync();
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    private HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    [Fact]
    public async Task UnhandledException_BecomesA500ProblemWithTraceIdAndNoInternals()
    {
        var response = await _client.GetAsync("/boom");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("secret internals", body);
        Assert.True(JsonDocument.Parse(body).RootElement.TryGetProperty("traceId", out _));
    }

    [Fact]
    public async Task AStoreThatIsDown_IsA503ProblemWithRetryAfter_NotA500()
    {
        var response = await _client.GetAsync("/store");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(ExceptionStatusCodes.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(503, body.GetProperty("status").GetInt32());
        Assert.Contains("try again", body.GetProperty("detail").GetString());
    }

    [Fact]
    public void ServerErrorsThatAreNotOutages_StayA500()
    {
        var uniqueViolation = new Npgsql.PostgresException("duplicate key", "ERROR", "ERROR", "23505");

        Assert.Equal(StatusCodes.Status500InternalServerError, ExceptionStatusCodes.Select(new InvalidOperationException("wrapped", uniqueViolation)));
        Assert.Equal(StatusCodes.Status503ServiceUnavailable,
            ExceptionStatusCodes.Select(new InvalidOperationException("wrapped", new Npgsql.PostgresException("shutting down", "FATAL", "FATAL", "57P01"))));
        // A publish that gave up waiting for the broker (BoundedPublish): the request may succeed in a moment.
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, ExceptionStatusCodes.Select(new BrokerUnavailableException("no broker")));
    }

    [Fact]
    public async Task MalformedJson_IsA400Problem()
    {
        var response = await _client.PostAsync("/drafts", new StringContent("{\"title\": \"x\", \"count\": ", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Json_IsCamelCase()
    {
        var response = await _client.PostAsJsonAsync("/drafts", new { title = "hello", count = 2 });

        Assert.Equal("{\"title\":\"hello\",\"count\":2}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_AreServedInPrometheusTextFormat()
    {
        await _client.GetAsync("/health/live");

        var response = await _client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("# TYPE", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_RecordRequests_ButNotTheFrameworksPerOperationCounters()
    {
        await _client.GetAsync("/health/live");

        var text = await Eventually.Returns(() => _client.GetStringAsync("/metrics"), t => t.Contains("http_server_request_duration_seconds"),
            TimeSpan.FromSeconds(10), "the request is recorded");

        // Routing's, authentication's, authorization's and the memory pool's counters are not recorded (each costs CPU on
        // every request or every buffer; the request duration's route and status code tell the same).
        Assert.DoesNotContain("aspnetcore_routing_", text);
        Assert.DoesNotContain("aspnetcore_authentication_", text);
        Assert.DoesNotContain("aspnetcore_authorization_", text);
        Assert.DoesNotContain("aspnetcore_memory_pool_", text);
    }

    [Fact]
    public async Task Metrics_OfMassTransit_KeepCountersButNotPerMessageGaugesAndHistograms()
    {
        // Instruments named as MassTransit's own (its meter is static, made once per process): what the host exports of them.
        using var meter = new System.Diagnostics.Metrics.Meter("MassTransit");
        var consumed = meter.CreateCounter<long>("messaging.masstransit.consume", "{message}");
        var active = meter.CreateUpDownCounter<long>("messaging.masstransit.consume.active", "{message}");
        var duration = meter.CreateHistogram<double>("messaging.masstransit.consume.duration", "s");

        var text = await Eventually.Returns(async () =>
        {
            consumed.Add(1);
            active.Add(1);
            duration.Record(0.002);
            return await _client.GetStringAsync("/metrics");
        }, t => t.Contains("messaging_masstransit_consume_"), TimeSpan.FromSeconds(10), "the consume counter is exported");

        Assert.DoesNotContain("messaging_masstransit_consume_active", text);
        Assert.DoesNotContain("messaging_masstransit_consume_duration", text);
        Assert.True(Telemetry.RecordedPerMessageAndDropped(duration));
        Assert.False(Telemetry.RecordedPerMessageAndDropped(consumed));
    }

    [Fact]
    public async Task ProtectedEndpoint_WithoutToken_Returns401Problem()
    {
        var response = await _client.SendAsync(Get("/me", null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ProtectedEndpoint_WithIdentityToken_SeesNameAndRoles()
    {
        var token = _issuer.CreateToken(Guid.CreateVersion7(), "Grace Hopper", roles: ["admin"]);

        var response = await _client.SendAsync(Get("/me", token));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"name\":\"Grace Hopper\",\"admin\":true}", await response.Content.ReadAsStringAsync());
    }

    public static TheoryData<string, Func<TestTokenIssuer, string>> RejectedTokens => new()
    {
        { "expired", issuer => issuer.CreateToken(Guid.NewGuid(), lifetime: TimeSpan.FromMinutes(-10)) },
        { "wrong audience", issuer => issuer.CreateToken(Guid.NewGuid(), audience: "other-api") },
        { "wrong issuer", issuer => issuer.CreateToken(Guid.NewGuid(), issuer: "http://evil.test/") },
        { "tampered payload", issuer => Tamper(issuer.CreateToken(Guid.NewGuid(), "user")) },
        { "alg none", issuer => Unsigned(issuer.CreateToken(Guid.NewGuid())) },
        { "garbage", _ => "not-a-token" },
    };

    [Theory]
    [MemberData(nameof(RejectedTokens))]
    public async Task ProtectedEndpoint_WithABadToken_Returns401(string kind, Func<TestTokenIssuer, string> token)
    {
        var response = await _client.SendAsync(Get("/me", token(_issuer)));

        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{kind} token was not rejected");
    }

    [Fact]
    public async Task AdminPolicy_ForAUserWithoutTheAdminRole_Returns403()
    {
        var response = await _client.SendAsync(Get("/admin", _issuer.CreateToken(Guid.NewGuid())));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    private static string Tamper(string jwt)
    {
        var parts = jwt.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlDecode(parts[1])).Replace("\"name\":\"user\"", "\"name\":\"root\"");
        return $"{parts[0]}.{Base64UrlEncode(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";
    }

    private static string Unsigned(string jwt)
    {
        var parts = jwt.Split('.');
        return $"{Base64UrlEncode("{\"alg\":\"none\",\"typ\":\"at+jwt\"}"u8.ToArray())}.{parts[1]}.";
    }

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Base64UrlDecode(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + (4 - padded.Length % 4) % 4, '='));
    }
}
