using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Platform.Client;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// One fault scenario's platform: the six services as processes on a fresh database and vhost of the campaign's own
/// servers, configured as <c>./platform run</c> configures them (<see cref="PlatformProcesses"/>), with TCP proxies
/// where partitions are cut: between the Gateways and Messaging (HTTP) and between Messaging and PostgreSQL.
/// </summary>
internal sealed class FaultPlatform : IAsyncDisposable
{
    private const string Password = "correct horse battery staple";
    private readonly List<PlatformClient> _clients = [];
    private readonly PostgresDatabase _database = new();
    private readonly RabbitMqVirtualHost _virtualHost = new();
    private readonly List<TcpProxy> _messagingHttp = [];

    private FaultPlatform(LocalInfrastructure servers) => Servers = servers;

    public LocalInfrastructure Servers { get; }

    /// <summary>The scenario, for the services' log file.</summary>
    public string Name { get; init; } = "faults";

    public PlatformProcesses Processes { get; private set; } = null!;

    /// <summary>Gateway → Messaging (the first replica): YARP's routes and the hub's own calls.</summary>
    public TcpProxy MessagingHttp => _messagingHttp.Count > 0 ? _messagingHttp[0] : throw new InvalidOperationException("Messaging is not behind a proxy here.");

    /// <summary>Messaging → PostgreSQL.</summary>
    public TcpProxy MessagingPostgres { get; private set; } = null!;

    public ServiceProcess Messaging => Processes["messaging"];

    public ServiceProcess Gateway1 => Processes["gateway1"];

    public ServiceProcess Gateway2 => Processes["gateway2"];

    /// <param name="proxied">Messaging behind the TCP proxies. Not for restarts: while Messaging is down the proxy still
    /// accepts the Gateway's connection (then closes it), where a stopped process refuses it, which the Gateway can tell.</param>
    public static async Task<FaultPlatform> StartAsync(LocalInfrastructure servers, string name, int replicas = 1,
        Action<string, Dictionary<string, string?>>? configure = null, bool proxied = true)
    {
        var platform = new FaultPlatform(servers) { Name = name };
        try
        {
            await platform.StartAsync(replicas, configure, proxied);
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
        return platform;
    }

    private async Task StartAsync(int replicas, Action<string, Dictionary<string, string?>>? configure, bool proxied)
    {
        await Task.WhenAll(_database.InitializeAsync(), _virtualHost.InitializeAsync());
        var postgres = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
        MessagingPostgres = new TcpProxy(new Uri($"tcp://{postgres.Host}:{postgres.Port}/"));
        var viaProxy = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = MessagingPostgres.Address.Port };
        Processes = await PlatformProcesses.StartAsync(new PlatformProcessOptions
        {
            Postgres = _database.ConnectionString,
            RabbitMq = _virtualHost.ConnectionString,
            Replicas = replicas,
            MessagingPostgres = proxied ? viaProxy.ConnectionString : null,
            GatewayToMessaging = !proxied ? null : (_, address) =>
            {
                var proxy = new TcpProxy(address);
                _messagingHttp.Add(proxy);
                return proxy.Address;
            },
            Configure = (name, settings) =>
            {
                settings["Logging:LogLevel:Default"] = "Warning";
                settings["Logging:LogLevel:Platform"] = "Warning";
                // Clients here are few users (or many with minted tokens) on one machine: measured, not protected.
                if (name.StartsWith("gateway", StringComparison.Ordinal))
                {
                    settings["Realtime:MaxConnectionsPerUser"] = "1000";
                    settings["Realtime:CallsPerSecond"] = "10000";
                }
                configure?.Invoke(name, settings);
            },
        });
        // Ready does not wait for the broker: every consumer must be on its queue before the first send.
        var consumers = Processes.Services.Where(s => !s.Name.StartsWith("identity", StringComparison.Ordinal)).Select(s => s.Process).ToList();
        await Eventually.Returns(_virtualHost.ConsumersAsync,
            found => consumers.All(service => found.Any(consumer => consumer.Connection.EndsWith($" {service.ProcessId}", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(60), "every service consumes from its queues");
    }

    /// <summary>
    /// Accounts for load users without a registration each (a password hash apiece would take minutes for 10,000): rows
    /// in Identity's users table as registration leaves them, without a password or an address, so that Messaging's
    /// check that a conversation's members are users passes. Their clients sign in with minted tokens (<see cref="MintedClient"/>).
    /// </summary>
    public async Task SeedUsersAsync(IReadOnlyCollection<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var insert = new NpgsqlCommand("""
            insert into identity.users ("Id", "UserName", "NormalizedUserName", "DisplayName", "EmailConfirmed", "PhoneNumberConfirmed",
                "TwoFactorEnabled", "LockoutEnabled", "AccessFailedCount", "CreatedAt", "IsBot", "SecurityStamp", "ConcurrencyStamp")
            select id, 'load-' || id, upper('load-' || id), 'Load user', false, false, false, true, 0, now(), false, gen_random_uuid()::text, gen_random_uuid()::text
            from unnest(@ids) as id
            """, connection);
        insert.Parameters.AddWithValue("ids", ids.ToArray());
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Registers a user through the Gateway (<c>POST /api/v1/users</c>) and signs in with the password grant of
    /// <c>platform-cli</c> (<c>POST /connect/token</c>), as apps do. The SDK gets the token rather than the password:
    /// its own sign-in checks that the discovery document's issuer is the address it talks to, and here two Gateways
    /// stand for one public address (a load balancer's) that only the first of them carries.
    /// </summary>
    public async Task<(Guid Id, PlatformClient Client)> SignUpAsync(string displayName, Uri? gateway = null, Func<HttpMessageHandler>? handler = null,
        bool acknowledge = false)
    {
        gateway ??= Gateway1.BaseAddress;
        using var http = new HttpClient { BaseAddress = gateway };
        var email = $"{Guid.NewGuid():N}@example.com";
        using var response = await http.PostAsJsonAsync("api/v1/users", new { email, password = Password, displayName });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"registration: {(int)response.StatusCode} {body}");
        var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
        // Access tokens live 15 minutes (Identity:Tokens:AccessTokenLifetime): signed in again after 10.
        var signInAt = gateway;
        var token = await SignInAsync(signInAt, email);
        var tokenAt = DateTime.UtcNow;
        var renewing = new SemaphoreSlim(1, 1);
        async Task<string> CurrentToken(CancellationToken cancellationToken)
        {
            await renewing.WaitAsync(cancellationToken);
            try
            {
                if (DateTime.UtcNow - tokenAt > TimeSpan.FromMinutes(10))
                    (token, tokenAt) = (await SignInAsync(signInAt, email), DateTime.UtcNow);
                return token;
            }
            finally
            {
                renewing.Release();
            }
        }
        return (id, Track(new PlatformClient(new PlatformClientOptions
        {
            GatewayUrl = gateway,
            AccessTokenProvider = CurrentToken,
            AcknowledgeDeliveries = acknowledge,
            SendRetries = 0, // the campaign retries itself, to count every failed request
            MaxReconnectDelay = TimeSpan.FromSeconds(2),
            HttpMessageHandlerFactory = handler,
        })));
    }

    private static async Task<string> SignInAsync(Uri gateway, string email)
    {
        using var http = new HttpClient { BaseAddress = gateway };
        using var signIn = await http.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["client_id"] = "platform-cli",
            ["username"] = email,
            ["password"] = Password,
            ["scope"] = "openid profile email offline_access api",
        }));
        var signedIn = await signIn.Content.ReadAsStringAsync();
        if (!signIn.IsSuccessStatusCode)
            throw new InvalidOperationException($"sign-in: {(int)signIn.StatusCode} {signedIn}");
        return JsonDocument.Parse(signedIn).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>A client of <paramref name="userId"/> with a token minted as Identity would sign it (no password sign-in).</summary>
    public PlatformClient MintedClient(Guid userId, Uri gateway, TimeSpan? maxReconnectDelay = null, bool skipNegotiation = false)
    {
        var token = Processes.CreateUserToken(userId, "load", TimeSpan.FromHours(3));
        return Track(new PlatformClient(new PlatformClientOptions
        {
            GatewayUrl = gateway,
            AccessTokenProvider = _ => Task.FromResult(token),
            AcknowledgeDeliveries = false,
            SendRetries = 0,
            MaxReconnectDelay = maxReconnectDelay ?? TimeSpan.FromSeconds(2),
            SkipNegotiation = skipNegotiation,
        }));
    }

    private PlatformClient Track(PlatformClient client)
    {
        lock (_clients)
            _clients.Add(client);
        return client;
    }

    /// <summary>Requests Messaging answered on a route (all replicas), from its Prometheus metrics.</summary>
    public async Task<long> MessagingRequestsAsync(string route)
    {
        using var http = new HttpClient();
        long total = 0;
        foreach (var messaging in Processes.All("messaging"))
        {
            var metrics = await http.GetStringAsync(new Uri(messaging.BaseAddress, "/metrics"));
            total += Regex.Matches(metrics, @"^http_server_request_duration_seconds_count\{(.*)\} (\d+)\s*$", RegexOptions.Multiline)
                .Where(m => m.Groups[1].Value.Contains($"http_route=\"{route}\"", StringComparison.Ordinal))
                .Sum(m => long.Parse(m.Groups[2].Value));
        }
        return total;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>SIGSTOP (19) / SIGCONT (18): the process freezes with its sockets open, as a long GC pause or a stalled VM would.</summary>
    public static void Signal(ServiceProcess process, bool stop)
    {
        if (process.ProcessId is not { } pid || Kill(pid, stop ? 19 : 18) != 0)
            throw new InvalidOperationException($"could not send {(stop ? "SIGSTOP" : "SIGCONT")}");
    }

    public async ValueTask DisposeAsync()
    {
        List<PlatformClient> clients;
        lock (_clients)
            clients = [.. _clients];
        // Thousands of clients: disposed in parallel, or this alone takes minutes.
        await Parallel.ForEachAsync(clients, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (client, _) => await client.DisposeAsync());
        if (Processes is not null)
        {
            await Processes.DisposeAsync();
            // What the services logged (warnings and up), beside the reports.
            var folder = Path.Combine(LocalInfrastructure.RepositoryRoot, ".local", "bench");
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, $"faults-services-{Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.log"), Processes.OutputOf(200_000));
        }
        foreach (var proxy in _messagingHttp)
            await proxy.DisposeAsync();
        if (MessagingPostgres is not null)
            await MessagingPostgres.DisposeAsync();
        // A restarted server ended the pooled admin connections: drop them, so dropping the database opens a fresh one.
        NpgsqlConnection.ClearAllPools();
        try
        {
            await Task.WhenAll(_database.DisposeAsync(), _virtualHost.DisposeAsync());
        }
        catch (Exception exception)
        {
            Console.WriteLine($"faults: cleaning up the scenario's database or vhost failed (left behind): {exception.Message}");
        }
    }
}
