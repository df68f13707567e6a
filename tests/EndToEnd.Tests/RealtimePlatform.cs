using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

public sealed record User(Guid Id, PlatformClient Sdk);

/// <summary>Messaging and two Gateway instances as processes on the class's database and vhost, Identity stood in for by a token issuer.</summary>
public class RealtimePlatform : IAsyncLifetime
{
    private readonly List<PlatformClient> _clients = [];

    public PlatformInfrastructure Infrastructure { get; } = new();

    public TestTokenIssuer Issuer { get; private set; } = null!;

    public ServiceProcess Messaging { get; private set; } = null!;

    public ServiceProcess Gateway1 { get; private set; } = null!;

    public ServiceProcess Gateway2 { get; private set; } = null!;

    protected virtual IReadOnlyDictionary<string, string?> GatewaySettings => new Dictionary<string, string?>();

    protected virtual IReadOnlyDictionary<string, string?> MessagingSettings => new Dictionary<string, string?>();

    /// <summary>Starts services the Gateways route to besides Messaging; returns the Gateway settings that point at them.</summary>
    protected virtual Task<IReadOnlyDictionary<string, string?>> StartMoreServicesAsync(IReadOnlyDictionary<string, string?> common) =>
        Task.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?>());

    public virtual async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        await StartAsync(Infrastructure.Database.ConnectionString, Infrastructure.VirtualHost.ConnectionString);
    }

    protected async Task StartAsync(string postgres, string rabbitMq)
    {
        Issuer = await TestTokenIssuer.StartAsync();
        var common = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = postgres,
            ["ConnectionStrings:RabbitMq"] = rabbitMq,
            ["Auth:Issuer"] = Issuer.Issuer,
            ["Auth:MetadataAddress"] = Issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Outbox:SweepInterval"] = "00:00:00.500",
            ["Outbox:SweepAge"] = "00:00:00.500",
        };
        var messaging = new Dictionary<string, string?>(common);
        foreach (var (key, value) in MessagingSettings)
            messaging[key] = value;
        Messaging = await ServiceProcess.StartAsync("Messaging", messaging);
        var gateway = new Dictionary<string, string?>(common)
        {
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = Messaging.BaseAddress.ToString(),
        };
        foreach (var (key, value) in await StartMoreServicesAsync(common))
            gateway[key] = value;
        foreach (var (key, value) in GatewaySettings)
            gateway[key] = value;
        Gateway1 = await ServiceProcess.StartAsync("Gateway", gateway);
        Gateway2 = await ServiceProcess.StartAsync("Gateway", gateway);
    }

    /// <summary>A signed-in SDK client of a new (or given) user talking to <paramref name="gateway"/>.</summary>
    public User Client(Uri gateway, Guid? userId = null, bool messagePack = false)
    {
        var user = userId ?? Guid.CreateVersion7();
        var client = new PlatformClient(new PlatformClientOptions
        {
            GatewayUrl = gateway,
            AccessTokenProvider = _ => Task.FromResult(Issuer.CreateToken(user, $"user-{user:N}"[..13])),
            UseMessagePack = messagePack,
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
        });
        lock (_clients)
            _clients.Add(client);
        return new User(user, client);
    }

    private readonly List<TcpProxy> _proxies = [];

    /// <summary>A proxy a test can cut or slow in front of the class's PostgreSQL, and the connection string through it.</summary>
    protected (TcpProxy Proxy, string ConnectionString) ProxyDatabase()
    {
        var direct = new Npgsql.NpgsqlConnectionStringBuilder(Infrastructure.Database.ConnectionString);
        var proxy = Owned(new TcpProxy(new Uri($"tcp://{direct.Host}:{direct.Port}/")));
        return (proxy, new Npgsql.NpgsqlConnectionStringBuilder(direct.ConnectionString) { Host = "127.0.0.1", Port = proxy.Address.Port }.ConnectionString);
    }

    /// <summary>A proxy a test can cut in front of the class's RabbitMQ, and the broker address through it.</summary>
    protected (TcpProxy Proxy, string Uri) ProxyBroker()
    {
        var direct = new Uri(Infrastructure.VirtualHost.ConnectionString);
        var proxy = Owned(new TcpProxy(direct));
        return (proxy, new UriBuilder(direct) { Port = proxy.Address.Port }.Uri.ToString());
    }

    private TcpProxy Owned(TcpProxy proxy)
    {
        _proxies.Add(proxy);
        return proxy;
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
        await Gateway2.DisposeAsync();
        await Gateway1.DisposeAsync();
        await Messaging.DisposeAsync();
        await Issuer.DisposeAsync();
        foreach (var proxy in _proxies)
            await proxy.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }
}
