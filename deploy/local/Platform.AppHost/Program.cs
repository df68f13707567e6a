// Local orchestration: the six services on their own ports, with the Aspire dashboard for traces, metrics
// and logs. PostgreSQL and RabbitMQ run as local processes started by scripts/infra.sh (see `./platform run`);
// their addresses arrive as ConnectionStrings:Postgres and ConnectionStrings:RabbitMq.
var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddConnectionString("Postgres");
var rabbitMq = builder.AddConnectionString("RabbitMq");
var gatewayUrl = builder.Configuration["Platform:GatewayUrl"] ?? "http://localhost:5080/";
// Which traces are recorded: a share of those that start in a service (PLATFORM_TRACE_SAMPLE_RATIO in ./platform run,
// all there), at most so many a second per service (PLATFORM_TRACES_PER_SECOND, 5 there): a developer's requests are
// all traced, and a load test does not keep the services and the dashboard busy with telemetry on a small machine.
// The services' own settings win over the OTEL_TRACES_SAMPLER=always_on that Aspire gives every project (Telemetry.cs).
var traceSampleRatio = builder.Configuration["Platform:TraceSampleRatio"] ?? "1";
var tracesPerSecond = builder.Configuration["Platform:TracesPerSecond"] ?? "0";
// How often each service pushes its metrics to the dashboard (ms): Aspire's default is every second, which cost the
// dashboard 2-3% of a core with nothing happening and several more under load (BENCHMARKS.md, "./platform run under load").
var metricExportInterval = builder.Configuration["Platform:MetricExportIntervalMs"] ?? "5000";

IResourceBuilder<ProjectResource> Telemetry(IResourceBuilder<ProjectResource> project) => project
    .WithEnvironment("Platform__Telemetry__TraceSampleRatio", traceSampleRatio)
    .WithEnvironment("Platform__Telemetry__TracesPerSecond", tracesPerSecond)
    .WithEnvironment("OTEL_METRIC_EXPORT_INTERVAL", metricExportInterval);

IResourceBuilder<ProjectResource> Service<TProject>(string name) where TProject : IProjectMetadata, new() =>
    Telemetry(builder.AddProject<TProject>(name))
        .WithEndpoint("http", endpoint => endpoint.IsProxied = false)
        .WithReference(postgres)
        .WithReference(rabbitMq)
        .WithEnvironment("Auth__Issuer", gatewayUrl)
        .WithHttpHealthCheck("/health/ready");

var identity = Service<Projects.Identity>("identity");
var messaging = Service<Projects.Messaging>("messaging");
var presence = Service<Projects.Presence>("presence");
// On one machine, Web Push receivers under test (a browser's or a push library's) listen on loopback, usually over
// plain http: those endpoints are accepted here, while private-network and non-https public endpoints stay refused.
var notifications = Service<Projects.Notifications>("notifications")
    .WithEnvironment("Notifications__Invites__LinkBaseUrl", new Uri(new Uri(gatewayUrl), "invite").ToString());
string[] loopbackPush = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:", "https://127.0.0.1:", "https://localhost:"];
for (var i = 0; i < loopbackPush.Length; i++)
    notifications.WithEnvironment($"Notifications__Push__AllowedEndpointPrefixes__{i}", loopbackPush[i]);
// Uploaded files live beside the run's database (git-ignored, kept between runs); the signing key of download
// URLs is made per machine by ./platform run (.local/run/media-signing-key) and arrives as a secret parameter.
var mediaData = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", "..", "..", ".local", "run", "media"));
var media = Service<Projects.Media>("media")
    .WithEnvironment("Media__Storage__Path", Path.Combine(mediaData, "blobs"))
    .WithEnvironment("Media__StagingPath", Path.Combine(mediaData, "staging"))
    .WithEnvironment("Media__SigningKey", builder.AddParameter("mediasigningkey", secret: true));

// The web app (built by ./platform run into clients/web/dist) is served by the Gateway at its URL; Identity accepts
// that URL's /callback as the web client's redirect (index 0; the Vite dev server's stays at index 1).
var webRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", "..", "..", "clients", "web", "dist"));
identity
    .WithEnvironment("Identity__Clients__WebRedirectUris__0", new Uri(new Uri(gatewayUrl), "callback").ToString())
    .WithEnvironment("Identity__Clients__WebPostLogoutRedirectUris__0", new Uri(gatewayUrl).ToString());

var gateway = Telemetry(builder.AddProject<Projects.Gateway>("gateway"))
    .WithEndpoint("http", endpoint => endpoint.IsProxied = false)
    .WithReference(rabbitMq)
    .WithEnvironment("Gateway__WebRoot", webRoot)
    .WithEnvironment("Auth__Issuer", gatewayUrl)
    .WithEnvironment("Auth__MetadataAddress", identity.GetEndpoint("http"))
    .WithHttpHealthCheck("/health/ready");

foreach (var (name, service) in new[] { ("identity", identity), ("messaging", messaging), ("presence", presence), ("notifications", notifications), ("media", media) })
{
    gateway.WithEnvironment($"ReverseProxy__Clusters__{name}__Destinations__primary__Address", service.GetEndpoint("http"));
    service.WithEnvironment("Auth__MetadataAddress", identity.GetEndpoint("http"));
    // Data exports: Identity asks each service for its part at its internal address.
    if (name != "identity")
        identity.WithEnvironment($"Identity__Export__Services__{name}", service.GetEndpoint("http"));
}

// Media, Notifications and Presence rebuild what they derive from conversation events from Messaging's internal feed,
// signing in at Identity as confidential clients (client credentials). Their secrets are made per machine by
// ./platform run (.local/run/client-secret-<service>) and arrive as secret parameters; Identity registers each client
// with the same value.
foreach (var (name, service) in new[] { ("media", media), ("notifications", notifications), ("presence", presence) })
{
    var secret = builder.AddParameter($"{name}clientsecret", secret: true);
    identity.WithEnvironment($"Identity__Clients__Services__{name}__Secret", secret);
    service
        .WithEnvironment("ServiceClient__ClientId", name)
        .WithEnvironment("ServiceClient__ClientSecret", secret)
        .WithEnvironment("ConversationLog__MessagingAddress", messaging.GetEndpoint("http"));
}

// Calls: coturn (host:port), started by ./platform run, checks the credentials Messaging signs with the same secret;
// it answers STUN too. The secret is a secret parameter, so the dashboard masks it.
if (builder.Configuration["Parameters:turnsecret"] is { Length: > 0 } && builder.Configuration["Platform:TurnAddress"] is { Length: > 0 } turn)
{
    var turnSecret = builder.AddParameter("turnsecret", secret: true);
    messaging
        .WithEnvironment("Calls__Ice__StunUrls__0", $"stun:{turn}")
        .WithEnvironment("Calls__Ice__TurnUrls__0", $"turn:{turn}?transport=udp")
        .WithEnvironment("Calls__Ice__TurnUrls__1", $"turn:{turn}?transport=tcp")
        .WithEnvironment("Calls__Ice__TurnSecret", turnSecret);
}

builder.Build().Run();
