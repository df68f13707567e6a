using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using MassTransit;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>
/// Identity in-process on the class's database and vhost, ready once its migrations and seeds are done. It issues its
/// own tokens: no stand-in issuer.
/// </summary>
public sealed class IdentityHost() : ServiceHost<Program>("Identity")
{
    protected override bool UsesTokenIssuer => false;

    // Contact and verification tests import many times a minute (the rate limit has its own test).
    protected override void Configure(ServiceFactory<Program> factory) => factory.WithSetting("Identity:ContactImport:PermitLimit", "100");

    protected override Task WaitUntilReadyAsync(ServiceFactory<Program> factory, HttpClient client) =>
        factory.Services.GetRequiredService<DatabaseReadiness>().WaitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

    public Task<int> CountUsersAsync() => InScopeAsync(services => Task.FromResult(services.GetRequiredService<IdentityDb>().Users.Count()));

    /// <summary>Marks the account's email and phone verified, as a confirmed code would (VerificationTests go through the API).</summary>
    public Task VerifyAsync(params Account[] accounts) => InScopeAsync<bool>(async services =>
    {
        var db = services.GetRequiredService<IdentityDb>();
        foreach (var account in accounts)
        {
            var user = await db.Users.FindAsync(account.Id) ?? throw new InvalidOperationException("No such account.");
            foreach (var channel in new[] { AddressOwnership.Email, AddressOwnership.Phone })
                if (AddressOwnership.AddressOf(user, channel) is not null)
                    await AddressOwnership.ClaimAsync(db, user, channel);
        }
        await db.SaveChangesAsync();
        return true;
    });

    public Task MakeAdminAsync(Guid userId) => InScopeAsync<bool>(async services =>
    {
        var users = services.GetRequiredService<UserManager<User>>();
        await users.AddToRoleAsync((await users.FindByIdAsync(userId.ToString()))!, DatabaseInitializer.AdminRole);
        return true;
    });
}

public sealed record Account(Guid Id, string Username, string? Email, string? Phone, string Password);

/// <summary>The public API as a client sees it.</summary>
public static class Api
{
    public const string Password = "a-long-test-password";

    public static string UniqueEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    /// <summary>A random valid US number (area code 202, exchanges 230-298: no N11 service codes).</summary>
    public static string UniquePhone() => $"+1202{Random.Shared.Next(230, 299)}{Random.Shared.Next(1000, 10_000)}";

    public static async Task<Account> RegisterAsync(this HttpClient http, string? email = null, string? phone = null,
        string displayName = "Test User", string? username = null, string? inviteToken = null, string password = Password)
    {
        if (email is null && phone is null)
            email = UniqueEmail();
        var response = await http.PostAsJsonAsync("/api/v1/users", new { email, phone, password, displayName, username, inviteToken });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Registration failed: {(int)response.StatusCode} {body}");
        var json = JsonDocument.Parse(body).RootElement;
        return new Account(json.GetProperty("id").GetGuid(), json.GetProperty("username").GetString()!,
            json.GetProperty("email").GetString(), json.GetProperty("phone").GetString(), password);
    }

    /// <summary>The password grant of <c>platform-cli</c>, as a raw form post.</summary>
    public static async Task<HttpResponseMessage> PasswordGrantAsync(this HttpClient http, string username, string password, string scope = "openid profile offline_access api") =>
        await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["client_id"] = "platform-cli",
            ["username"] = username,
            ["password"] = password,
            ["scope"] = scope,
        }));

    public static async Task<string> TokenAsync(this HttpClient http, Account account)
    {
        var response = await http.PasswordGrantAsync(account.Username, account.Password);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"Password grant failed: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    public static async Task<HttpResponseMessage> SendAsync(this HttpClient http, HttpMethod method, string path, string? token, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
            request.Content = body as HttpContent ?? JsonContent.Create(body);
        return await http.SendAsync(request);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }
}

/// <summary>A MassTransit bus on the class's vhost that records the integration events it receives.</summary>
public sealed class EventRecorder : IAsyncDisposable
{
    private readonly IBusControl _bus;
    private readonly Channel<object> _received = Channel.CreateUnbounded<object>();
    private readonly List<object> _seen = [];

    private EventRecorder(string connectionString, Action<IRabbitMqReceiveEndpointConfigurator, ChannelWriter<object>> handlers)
    {
        var uri = new Uri(connectionString);
        var credentials = uri.UserInfo.Split(':');
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(rabbit =>
        {
            rabbit.Host(uri.Host, (ushort)uri.Port, Uri.UnescapeDataString(uri.AbsolutePath.Trim('/')), host =>
            {
                host.Username(Uri.UnescapeDataString(credentials[0]));
                host.Password(Uri.UnescapeDataString(credentials[1]));
            });
            rabbit.ReceiveEndpoint("identity-tests-" + Guid.NewGuid().ToString("N")[..8], endpoint => handlers(endpoint, _received.Writer));
        });
    }

    public static async Task<EventRecorder> StartAsync<T1, T2>(string connectionString) where T1 : class where T2 : class
    {
        var recorder = new EventRecorder(connectionString, (endpoint, writer) =>
        {
            endpoint.Handler<T1>(context => writer.WriteAsync(context.Message).AsTask());
            endpoint.Handler<T2>(context => writer.WriteAsync(context.Message).AsTask());
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await recorder._bus.StartAsync(timeout.Token);
        return recorder;
    }

    /// <summary>The first received event of type <typeparamref name="T"/> that matches, within the timeout.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool> match, TimeSpan? timeout = null)
    {
        var found = _seen.OfType<T>().FirstOrDefault(match);
        if (found is not null)
            return found;
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                var message = await _received.Reader.ReadAsync(deadline.Token);
                _seen.Add(message);
                if (message is T typed && match(typed))
                    return typed;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No matching {typeof(T).Name} arrived on the bus; received: {string.Join(", ", _seen.Select(m => m.GetType().Name))}");
        }
    }

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
