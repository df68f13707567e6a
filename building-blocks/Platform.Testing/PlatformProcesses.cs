using System.Security.Cryptography;

namespace Platform.Testing;

/// <summary>How <see cref="PlatformProcesses"/> runs the platform.</summary>
public sealed record PlatformProcessOptions
{
    /// <summary>The one database every service uses.</summary>
    public required string Postgres { get; init; }

    /// <summary>The one virtual host every service uses.</summary>
    public required string RabbitMq { get; init; }

    /// <summary>Gateway instances, each with the same settings (one public address in front of them).</summary>
    public int Gateways { get; init; } = 2;

    /// <summary>Processes of each HTTP service behind the Gateways (one YARP destination each).</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Messaging's database connection, when it reaches PostgreSQL another way (through a proxy).</summary>
    public string? MessagingPostgres { get; init; }

    /// <summary>Where the Gateways reach each Messaging replica, when not directly (through a proxy): replica index → address.</summary>
    public Func<int, Uri, Uri>? GatewayToMessaging { get; init; }

    /// <summary>Settings added to (or replacing) a service's: (instance name such as <c>media</c> or <c>gateway2</c>, its settings).</summary>
    public Action<string, Dictionary<string, string?>>? Configure { get; init; }
}

/// <summary>
/// The six services as processes on ONE database and ONE vhost, configured key for key as
/// <c>deploy/local/Platform.AppHost/Program.cs</c> configures them for <c>./platform run</c>: the whole-platform tests
/// and the fault campaign both run it. Identity is the real token issuer (its signing key is generated here, so a
/// harness can also mint tokens Identity would sign, see <see cref="IdentitySigningKey"/>).
/// </summary>
public sealed class PlatformProcesses : IAsyncDisposable
{
    private static readonly string[] HttpServices = ["identity", "messaging", "presence", "notifications", "media"];
    private readonly List<(string Name, ServiceProcess Process)> _services = [];
    private readonly string _mediaFolder = Path.Combine(Path.GetTempPath(), "platform-media-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly RSA _identityKey = RSA.Create(2048);

    private PlatformProcesses(PlatformProcessOptions options) => Options = options;

    public PlatformProcessOptions Options { get; }

    /// <summary>Every process with its instance name: <c>identity</c>, <c>messaging</c>, ... (<c>messaging2</c> for a second replica), <c>gateway1</c>, <c>gateway2</c>.</summary>
    public IReadOnlyList<(string Name, ServiceProcess Process)> Services
    {
        get { lock (_services) return [.. _services]; }
    }

    /// <summary>The settings every Gateway runs with, for starting another instance.</summary>
    public IReadOnlyDictionary<string, string?> GatewaySettings { get; private set; } = new Dictionary<string, string?>();

    /// <summary>The issuer of every token (the first Gateway's address: the public URL).</summary>
    public string Issuer { get; private set; } = "";

    /// <summary>Identity's signing key (PKCS#8 PEM given to it), with which tokens exactly like Identity's can be minted.</summary>
    public RSA IdentitySigningKey => _identityKey;

    /// <summary>
    /// An access token as Identity issues it to <paramref name="userId"/> (issuer, audience <c>api</c>, signed with its
    /// key and key id): for load that would otherwise spend the machine on thousands of password sign-ins.
    /// </summary>
    public string CreateUserToken(Guid userId, string name, TimeSpan lifetime)
    {
        var key = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(_identityKey);
        key.KeyId = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(Microsoft.IdentityModel.Tokens.JsonWebKeyConverter
            .ConvertFromRSASecurityKey(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(_identityKey.ExportParameters(false))).ComputeJwkThumbprint());
        var now = DateTime.UtcNow;
        return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "api",
            Subject = new System.Security.Claims.ClaimsIdentity([new("sub", userId.ToString()), new("name", name)]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            TokenType = "at+jwt",
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(key, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>Where Media keeps the uploaded files' bytes.</summary>
    public string MediaBlobs => Path.Combine(_mediaFolder, "blobs");

    public ServiceProcess this[string name] => Services.Single(service => service.Name == name).Process;

    /// <summary>Every instance of a service: <c>messaging</c> gives messaging, messaging2, ...; <c>gateway</c> the Gateways.</summary>
    public IReadOnlyList<ServiceProcess> All(string service) =>
        Services.Where(s => s.Name == service || (s.Name.StartsWith(service, StringComparison.Ordinal) && char.IsDigit(s.Name[^1])))
            .Select(s => s.Process).ToList();

    public static async Task<PlatformProcesses> StartAsync(PlatformProcessOptions options)
    {
        var platform = new PlatformProcesses(options);
        try
        {
            await platform.StartAsync();
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
        return platform;
    }

    private static string Instance(string service, int replica) => replica == 0 ? service : $"{service}{replica + 1}";

    private async Task StartAsync()
    {
        // Every address is chosen first, so all processes can start at once, as the AppHost starts them.
        var ports = new Dictionary<string, int>();
        foreach (var service in HttpServices)
            for (var replica = 0; replica < Options.Replicas; replica++)
                ports[Instance(service, replica)] = TestInfrastructure.UnusedPort();
        for (var instance = 1; instance <= Options.Gateways; instance++)
            ports[$"gateway{instance}"] = TestInfrastructure.UnusedPort();
        Uri Address(string name) => new($"http://127.0.0.1:{ports[name]}/");
        // All Gateways stand for one public address (a load balancer's, in Kubernetes); tokens name the first as issuer.
        Issuer = Address("gateway1").ToString();

        // The settings of deploy/local/Platform.AppHost/Program.cs, key for key. ServiceProcess runs the services in the
        // Testing environment, so what the AppHost's Development environment takes from the services'
        // appsettings.Development.json is given here too (marked "Development:").
        Dictionary<string, string?> Service(params IEnumerable<KeyValuePair<string, string?>>[] extra)
        {
            var settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = Options.Postgres,
                ["ConnectionStrings:RabbitMq"] = Options.RabbitMq,
                ["Auth:Issuer"] = Issuer,
                ["Auth:MetadataAddress"] = Address("identity").ToString(),
                ["Auth:RequireHttpsMetadata"] = "false", // Development:
            };
            foreach (var (key, value) in extra.SelectMany(e => e))
                settings[key] = value;
            return settings;
        }
        static KeyValuePair<string, string?> Set(string key, string? value) => new(key, value);

        var gateway = Service();
        gateway.Remove("ConnectionStrings:Postgres"); // The AppHost gives the Gateway only the broker.
        // The web app, where ./platform run builds it (served only when built: ./platform test builds it).
        gateway["Gateway:WebRoot"] = Path.Combine(TestInfrastructure.RepositoryRoot, "clients", "web", "dist");
        foreach (var service in HttpServices)
            for (var replica = 0; replica < Options.Replicas; replica++)
            {
                var address = Address(Instance(service, replica));
                if (service == "messaging" && Options.GatewayToMessaging is { } proxied)
                    address = proxied(replica, address);
                gateway[$"ReverseProxy:Clusters:{service}:Destinations:{(replica == 0 ? "primary" : $"replica{replica + 1}")}:Address"] = address.ToString();
            }

        // Media, Notifications and Presence sign in as confidential clients to read Messaging's log (backfill); the
        // AppHost gives each its per-machine secret and Identity the same, as here.
        var clients = ServiceClients.ConversationLogReaders();
        string[] loopbackPush = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:", "https://127.0.0.1:", "https://localhost:"];
        var mediaKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)); // Development: a fixed dev key, the same for every replica
        var starting = new List<(string Name, string Service, Dictionary<string, string?> Settings)>();
        for (var replica = 0; replica < Options.Replicas; replica++)
        {
            starting.Add((Instance("identity", replica), "Identity", Service(
                [
                    Set("Identity:Keys:SigningKey", _identityKey.ExportPkcs8PrivateKeyPem()), // Development: a generated key file
                    Set("Identity:Clients:WebRedirectUris:0", new Uri(new Uri(Issuer), "callback").ToString()),
                    Set("Identity:Clients:WebPostLogoutRedirectUris:0", Issuer),
                    // Data exports ask each service for its part, at its internal address.
                    Set("Identity:Export:Services:messaging", Address("messaging").ToString()),
                    Set("Identity:Export:Services:notifications", Address("notifications").ToString()),
                    Set("Identity:Export:Services:presence", Address("presence").ToString()),
                    Set("Identity:Export:Services:media", Address("media").ToString()),
                ],
                clients.IdentitySettings())));
            var messaging = Service(); // No TURN: the AppHost sets Calls:Ice:* only when coturn runs.
            if (Options.MessagingPostgres is { } messagingPostgres)
                messaging["ConnectionStrings:Postgres"] = messagingPostgres;
            starting.Add((Instance("messaging", replica), "Messaging", messaging));
            starting.Add((Instance("presence", replica), "Presence", Service(clients.ServiceSettings("presence", Address("messaging")))));
            starting.Add((Instance("notifications", replica), "Notifications", Service(
                [Set("Notifications:Invites:LinkBaseUrl", new Uri(new Uri(Issuer), "invite").ToString())],
                loopbackPush.Select((prefix, i) => Set($"Notifications:Push:AllowedEndpointPrefixes:{i}", prefix)),
                clients.ServiceSettings("notifications", Address("messaging")))));
            starting.Add((Instance("media", replica), "Media", Service(
                clients.ServiceSettings("media", Address("messaging")),
                [
                    Set("Media:Storage:Path", MediaBlobs),
                    Set("Media:StagingPath", Path.Combine(_mediaFolder, "staging")),
                    Set("Media:SigningKey", mediaKey),
                ])));
        }
        for (var i = 1; i <= Options.Gateways; i++)
            starting.Add(($"gateway{i}", "Gateway", new Dictionary<string, string?>(gateway)));
        foreach (var (name, _, settings) in starting)
            Options.Configure?.Invoke(name, settings);
        GatewaySettings = starting.First(s => s.Name == "gateway1").Settings;

        // Further replicas start once the first of each is ready: Identity's first start migrates the empty database,
        // and two instances doing so at once on this machine left the second waiting well past a minute (RELIABILITY.md).
        foreach (var wave in starting.GroupBy(s => s.Name.StartsWith("gateway", StringComparison.Ordinal) || !char.IsDigit(s.Name[^1]) ? 0 : 1).OrderBy(g => g.Key))
        {
            var started = wave.Select(async service =>
            {
                var process = await ServiceProcess.StartAsync(service.Service, service.Settings, port: ports[service.Name]);
                lock (_services)
                    _services.Add((service.Name, process));
            }).ToList();
            var all = Task.WhenAll(started);
            try
            {
                await all;
            }
            catch
            {
                throw all.Exception!; // every service that failed to start, not only the first
            }
        }
    }

    /// <summary>One more Gateway instance with the others' settings and <paramref name="overrides"/>; stopped with the platform.</summary>
    /// <param name="waitForBroker">False for an instance whose broker is meant to be unreachable when it starts.</param>
    public async Task<ServiceProcess> StartGatewayAsync(string name, IReadOnlyDictionary<string, string?> overrides, bool waitForBroker = true)
    {
        var settings = new Dictionary<string, string?>(GatewaySettings);
        foreach (var (key, value) in overrides)
            settings[key] = value;
        var gateway = await ServiceProcess.StartAsync("Gateway", settings, waitForBroker: waitForBroker);
        lock (_services)
            _services.Add((name, gateway));
        return gateway;
    }

    /// <summary>The last lines each of <paramref name="processes"/> (all when none) wrote, named.</summary>
    public string OutputOf(int lastCharacters, params ServiceProcess[] processes) => string.Concat(Services
        .Where(service => processes.Length == 0 || processes.Contains(service.Process))
        .Select(service =>
        {
            var output = service.Process.Output;
            return $"\n--- {service.Name}, last output ---\n{(output.Length > lastCharacters ? output[^lastCharacters..] : output)}";
        }));

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Services.Select(service => service.Process.DisposeAsync().AsTask()));
        _identityKey.Dispose();
        if (Directory.Exists(_mediaFolder))
            Directory.Delete(_mediaFolder, recursive: true);
    }
}
