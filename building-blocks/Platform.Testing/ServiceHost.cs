using System.Net.Http.Headers;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// One service in-process for a test class (<c>IClassFixture&lt;MyServiceHost&gt;</c>): its own database and virtual
/// host, a token issuer standing in for Identity, the service started and ready, signed-in clients, and everything
/// the host started disposed afterwards in reverse order. A service's tests derive from it with only their settings
/// (<see cref="Configure"/>) and their own helpers.
/// </summary>
/// <param name="service">The service's name, for messages (e.g. "Messaging").</param>
public abstract class ServiceHost<TProgram>(string service) : IAsyncLifetime where TProgram : class
{
    private readonly Stack<IAsyncDisposable> _owned = new();

    public string Service { get; } = service;

    public PlatformInfrastructure Infrastructure { get; } = new();

    /// <summary>Stands in for Identity: the service validates its tokens (<c>Auth:MetadataAddress</c>). Null when <see cref="UsesTokenIssuer"/> is false.</summary>
    public TestTokenIssuer Issuer { get; private set; } = null!;

    /// <summary>The service, started and ready once <see cref="InitializeAsync"/> returns.</summary>
    public ServiceFactory<TProgram> Factory { get; private set; } = null!;

    /// <summary>
    /// The clock the service sees when <see cref="ControlsTime"/> is true: starts at the real time and moves only when a
    /// test moves it (and by 1 ms per reading, so two readings never tie).
    /// </summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };

    /// <summary>Whether the service gets <see cref="Clock"/> as its <c>TimeProvider</c>.</summary>
    protected virtual bool ControlsTime => false;

    /// <summary>Whether to start a <see cref="TestTokenIssuer"/> (Identity, which issues its own tokens, needs none).</summary>
    protected virtual bool UsesTokenIssuer => true;

    public virtual async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        if (UsesTokenIssuer)
            Issuer = Own(await TestTokenIssuer.StartAsync());
        await StartingAsync();
        Factory = NewFactory();
        using var client = await StartAsync(Factory);
        await StartedAsync();
    }

    /// <summary>Before the service starts: start what its settings point at (a local site, a bot, a bus probe), with <see cref="Own"/>.</summary>
    protected virtual Task StartingAsync() => Task.CompletedTask;

    /// <summary>After the service is ready.</summary>
    protected virtual Task StartedAsync() => Task.CompletedTask;

    /// <summary>The service's own settings and service replacements, on every factory this host makes.</summary>
    protected virtual void Configure(ServiceFactory<TProgram> factory)
    {
    }

    /// <summary>
    /// A new, not yet started instance of the service on this host's database, vhost, issuer and clock, configured as
    /// <see cref="Factory"/> is: a second replica, or one with a test's own settings (add them, then <see cref="StartAsync"/>).
    /// The caller disposes it.
    /// </summary>
    public ServiceFactory<TProgram> NewFactory()
    {
        var factory = new ServiceFactory<TProgram>(Infrastructure);
        if (UsesTokenIssuer)
            factory.WithSetting("Auth:MetadataAddress", Issuer.Url);
        if (ControlsTime)
            factory.WithServices(services => services.AddSingleton<TimeProvider>(Clock));
        Configure(factory);
        return factory;
    }

    /// <summary>Stops the service and starts it again on the same database and vhost (a restart or a deployment).</summary>
    public async Task RestartAsync()
    {
        await Factory.DisposeAsync();
        Factory = NewFactory();
        using var client = await StartAsync(Factory);
    }

    /// <summary>Starts the instance and returns once it is ready (<see cref="WaitUntilReadyAsync"/>), with a client of it.</summary>
    public async Task<HttpClient> StartAsync(ServiceFactory<TProgram> factory)
    {
        var client = factory.CreateClient();
        await WaitUntilReadyAsync(factory, client);
        return client;
    }

    /// <summary>
    /// Ready and consuming by default: a test that publishes before the service's queues are bound would lose the
    /// message, and writes publish at once only while the broker is connected.
    /// </summary>
    protected virtual Task WaitUntilReadyAsync(ServiceFactory<TProgram> factory, HttpClient client) =>
        Readiness.WaitUntilConsumingAsync(client, Service);

    /// <summary>A client of the service signed in as the user with a token from <see cref="Issuer"/>.</summary>
    public HttpClient UserClient(
        Guid userId,
        string name = "Test User",
        IEnumerable<string>? roles = null,
        ServiceFactory<TProgram>? instance = null,
        WebApplicationFactoryClientOptions? options = null)
    {
        var factory = instance ?? Factory;
        var http = options is null ? factory.CreateClient() : factory.CreateClient(options);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Issuer.CreateToken(userId, name, roles));
        return http;
    }

    /// <summary>Runs <paramref name="action"/> with a scope of the service's container (its stores, its hosted services).</summary>
    public Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action) => Factory.InScopeAsync(action);

    /// <summary>Disposes <paramref name="resource"/> with the host, before the resources owned earlier.</summary>
    protected T Own<T>(T resource) where T : IAsyncDisposable
    {
        lock (_owned)
            _owned.Push(resource);
        return resource;
    }

    public virtual async Task DisposeAsync()
    {
        if (Factory is not null)
            await Factory.DisposeAsync();
        while (_owned.TryPop(out var resource))
            await resource.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }
}
