using System.Collections.Concurrent;
using System.Diagnostics;
using Platform.Client;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// The platform as users reach it: Messaging, Presence, Notifications, Media and a Gateway as their own processes
/// (Release builds) on the run's PostgreSQL and RabbitMQ, a token issuer standing in for Identity (tokens are checked
/// the same way), users as SDK clients through the Gateway.
/// </summary>
internal sealed class PlatformUnderTest : IAsyncDisposable
{
    private readonly List<PlatformClient> _clients = [];

    private PlatformUnderTest(PlatformInfrastructure infrastructure, TestTokenIssuer issuer, TraceReceiver traces, ServiceProcess messaging, ServiceProcess gateway,
        IReadOnlyList<ServiceProcess> others)
    {
        Infrastructure = infrastructure;
        Traces = traces;
        Issuer = issuer;
        Messaging = messaging;
        Gateway = gateway;
        Others = others;
    }

    /// <summary>Presence, Notifications and Media: they consume every conversation event too, as in production.</summary>
    public IReadOnlyList<ServiceProcess> Others { get; }

    public PlatformInfrastructure Infrastructure { get; }

    public TestTokenIssuer Issuer { get; }

    /// <summary>Where the services export their spans: only the traces of sends the harness marks as sampled.</summary>
    public TraceReceiver Traces { get; }

    public ServiceProcess Messaging { get; }

    public ServiceProcess Gateway { get; }

    public static async Task<PlatformUnderTest> StartAsync()
    {
        var infrastructure = new PlatformInfrastructure();
        await infrastructure.InitializeAsync();
        var issuer = await TestTokenIssuer.StartAsync();
        var traces = await TraceReceiver.StartAsync();
        var common = new Dictionary<string, string?>
        {
            // Traces only for requests that arrive with a sampled traceparent (the sends the harness traces), exported
            // to the harness; OpenTelemetry .NET reads these from the configuration. Metrics stay on /metrics, not pushed.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = traces.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_always_off",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "1000",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "3600000",
            ["ConnectionStrings:Postgres"] = infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = issuer.Issuer,
            ["Auth:MetadataAddress"] = issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Platform"] = "Warning",
        };
        // For experiments: BENCH_SERVICE_ENV="NAME=value;Section__Key=value" gives the services (not the harness) these
        // environment variables, so one build compares a runtime or configuration setting on and off.
        foreach (var pair in (Environment.GetEnvironmentVariable("BENCH_SERVICE_ENV") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var name, var value])
                common[name] = value;
        var messaging = await ServiceProcess.StartAsync("Messaging", common);
        // The test issuer answers the services' client credentials; they backfill from Messaging's log as in production.
        var clients = ServiceClients.ConversationLogReaders();
        var presence = await ServiceProcess.StartAsync("Presence", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("presence", messaging.BaseAddress))));
        var notifications = await ServiceProcess.StartAsync("Notifications", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("notifications", messaging.BaseAddress))));
        var media = await ServiceProcess.StartAsync("Media", new Dictionary<string, string?>(common.Concat(clients.ServiceSettings("media", messaging.BaseAddress)))
        {
            ["Media:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        });
        var gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>(common)
        {
            ["ReverseProxy:Clusters:messaging:Destinations:primary:Address"] = messaging.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:presence:Destinations:primary:Address"] = presence.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:notifications:Destinations:primary:Address"] = notifications.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:media:Destinations:primary:Address"] = media.BaseAddress.ToString(),
            // Load clients are few users with many connections, and the bench measures, not protects.
            ["Realtime:MaxConnectionsPerUser"] = "1000",
            ["Realtime:CallsPerSecond"] = "10000",
            ["Realtime:SendQueueLimit"] = "100000",
            ["DOTNET_gcServer"] = Environment.GetEnvironmentVariable("BENCH_GATEWAY_GC_SERVER"),
        });
        return new PlatformUnderTest(infrastructure, issuer, traces, messaging, gateway, [presence, notifications, media]);
    }

    /// <summary>Whether <see cref="Client"/>'s clients acknowledge deliveries (the SDK's default; off unless <c>--acks on</c>).</summary>
    public bool AcknowledgeDeliveries { get; set; }

    public PlatformClient Client(Guid userId, bool messagePack)
    {
        var token = Issuer.CreateToken(userId, "bench", lifetime: TimeSpan.FromHours(6));
        var client = new PlatformClient(new PlatformClientOptions
        {
            GatewayUrl = Gateway.BaseAddress,
            AccessTokenProvider = _ => Task.FromResult(token),
            UseMessagePack = messagePack,
            AcknowledgeDeliveries = AcknowledgeDeliveries,
            MaxReconnectDelay = TimeSpan.FromSeconds(2),
        });
        lock (_clients)
            _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
        await Gateway.DisposeAsync();
        foreach (var other in Others)
            await other.DisposeAsync();
        await Messaging.DisposeAsync();
        await Issuer.DisposeAsync();
        await Traces.DisposeAsync();
        await Infrastructure.DisposeAsync();
        // What the services logged (warnings and up), beside the reports.
        var folder = Path.Combine(LocalInfrastructure.RepositoryRoot, ".local", "bench");
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
        await File.WriteAllTextAsync(Path.Combine(folder, $"services-{stamp}.log"), string.Concat(
            new[] { "Messaging", "Gateway", "Presence", "Notifications", "Media" }.Zip(new[] { Messaging, Gateway }.Concat(Others))
                .Select(service => $"===== {service.First}\n{service.Second.Output}\n")));
    }
}

/// <summary>
/// Users in rooms, all connected through the Gateway; messages sent open loop by members, timed until each other
/// member's SDK stream hands them out. Counts losses, duplicates and order violations as the apps would see them.
/// </summary>
internal sealed class Rooms : IRoomLoad
{
    private readonly PlatformUnderTest _platform;
    private readonly ConcurrentDictionary<string, long> _scheduled = new();
    private readonly ConcurrentDictionary<(Guid User, Guid Conversation), long> _lastSeq = new();
    private readonly ConcurrentDictionary<string, TracedSend> _traced = new();
    private long _deliveries, _duplicates, _orderViolations;
    private Latency _deliver = new();
    private string _prefix = "w";

    private Rooms(PlatformUnderTest platform) => _platform = platform;

    public List<(Guid Id, PlatformClient Client)> Users { get; } = [];

    public List<(Guid Id, List<int> Members)> Conversations { get; } = [];

    public long Deliveries => Interlocked.Read(ref _deliveries);

    /// <summary>The sends of the last <see cref="SendAsync"/> that were traced, with their acknowledgement and deliveries.</summary>
    public IReadOnlyCollection<TracedSend> Traced => _traced.Values.ToList();

    /// <summary><paramref name="users"/> users, <paramref name="conversations"/> group conversations of <paramref name="members"/> members each (round robin), everyone connected.</summary>
    public static async Task<Rooms> CreateAsync(PlatformUnderTest platform, int users, int conversations, int members, bool messagePack)
    {
        var rooms = new Rooms(platform);
        for (var i = 0; i < users; i++)
        {
            var id = Guid.CreateVersion7();
            rooms.Users.Add((id, platform.Client(id, messagePack)));
        }
        var next = 0;
        for (var c = 0; c < conversations; c++)
        {
            var memberIndexes = Enumerable.Range(0, Math.Min(members, users)).Select(_ => next++ % users).Distinct().ToList();
            var creator = rooms.Users[memberIndexes[0]].Client;
            var conversation = await creator.CreateConversationAsync("group", memberIndexes.Skip(1).Select(i => rooms.Users[i].Id), $"room {c}");
            rooms.Conversations.Add((conversation.Id, memberIndexes));
        }
        await Parallel.ForEachAsync(rooms.Users, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (user, cancellationToken) =>
        {
            await user.Client.Realtime.StartAsync(cancellationToken: cancellationToken);
            _ = Task.Run(() => rooms.ReadAsync(user.Id, user.Client.Realtime), CancellationToken.None);
        });
        return rooms;
    }

    private async Task ReadAsync(Guid userId, RealtimeStream stream)
    {
        await foreach (var e in stream.ReadEventsAsync())
        {
            var now = Stopwatch.GetTimestamp();
            var key = (userId, e.ConversationId);
            var last = _lastSeq.GetValueOrDefault(key);
            if (e.Seq <= last)
                Interlocked.Increment(ref _duplicates);
            else if (last != 0 && e.Seq != last + 1)
                Interlocked.Increment(ref _orderViolations);
            _lastSeq[key] = Math.Max(last, e.Seq);
            if (e.Type != "message.posted" || !e.Data.TryGetProperty("clientMessageId", out var id) || !e.Data.TryGetProperty("senderId", out var sender)
                || sender.GetGuid() == userId)
                continue;
            if (_traced.TryGetValue(id.GetString()!, out var traced))
                traced.Delivered.Enqueue(now);
            if (_scheduled.TryGetValue(id.GetString()!, out var scheduled))
            {
                Interlocked.Increment(ref _deliveries);
                if (id.GetString()!.StartsWith(_prefix, StringComparison.Ordinal))
                    _deliver.Record(now - scheduled);
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages at <paramref name="rate"/>/s (conversations in turn, a random member
    /// each) after <paramref name="warmup"/> unmeasured ones; waits for the deliveries. Every
    /// <paramref name="traceEvery"/>th measured send carries a sampled <c>traceparent</c>, so the services trace it.
    /// </summary>
    public async Task<Step> SendAsync(double rate, int count, int warmup, int size, string label, int traceEvery = 0)
    {
        _traced.Clear();
        var text = new string('x', size);
        var acknowledged = new Latency();
        _deliver = new Latency();
        var step = label + "-" + Guid.NewGuid().ToString("N")[..6];
        _prefix = step + "-m";
        var failures = 0;
        var expected = 0L;
        var deliveriesBefore = Deliveries;
        var duplicatesBefore = Interlocked.Read(ref _duplicates);
        var orderBefore = Interlocked.Read(ref _orderViolations);
        var random = new Random(42);
        var plan = Enumerable.Range(0, warmup + count).Select(i =>
        {
            var (conversation, members) = Conversations[i % Conversations.Count];
            return (conversation, sender: members[random.Next(members.Count)], recipients: members.Count - 1);
        }).ToList();
        foreach (var item in plan.Skip(warmup))
            expected += item.recipients;
        var started = Stopwatch.GetTimestamp();
        await OpenLoop.RunAsync(rate, plan.Count, async (i, scheduled) =>
        {
            var (conversation, sender, _) = plan[i];
            var id = i < warmup ? $"{step}-w{i}" : $"{step}-m{i}";
            _scheduled[id] = scheduled;
            using var trace = traceEvery > 0 && i >= warmup && (i - warmup) % traceEvery == 0 ? StartTrace(id, scheduled) : null;
            try
            {
                await Users[sender].Client.SendMessageAsync(conversation, text, clientMessageId: id);
                var now = Stopwatch.GetTimestamp();
                if (i >= warmup)
                    acknowledged.Record(now - scheduled);
                if (trace is not null)
                    _traced[id].Acknowledged = now;
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failures);
            }
        });
        var sendSeconds = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
        var deadline = Stopwatch.GetTimestamp() + 15 * Stopwatch.Frequency;
        while (_deliver.Count < expected && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(50);
        var seconds = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
        return new Step(label, rate, count, acknowledged, _deliver, expected, expected - _deliver.Count, failures,
            Interlocked.Read(ref _duplicates) - duplicatesBefore, Interlocked.Read(ref _orderViolations) - orderBefore,
            (warmup + count) / sendSeconds, (Deliveries - deliveriesBefore) / seconds);
    }

    // The send's HTTP request carries this activity's traceparent with the sampled flag (as a traced app's would).
    private Activity StartTrace(string clientMessageId, long scheduled)
    {
        var activity = new Activity("bench send").SetIdFormat(ActivityIdFormat.W3C);
        activity.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        activity.Start();
        _traced[clientMessageId] = new TracedSend(activity.TraceId.ToHexString(), scheduled);
        return activity;
    }
}

/// <summary>A traced send: its trace, when it was scheduled, acknowledged and handed out by each recipient's stream (Stopwatch ticks).</summary>
internal sealed class TracedSend(string traceId, long scheduled)
{
    public string TraceId { get; } = traceId;

    public long Scheduled { get; } = scheduled;

    public long Acknowledged { get; set; }

    public ConcurrentQueue<long> Delivered { get; } = new();
}

/// <param name="Losses">Deliveries expected but not seen within 15 s of the last send.</param>
internal sealed record Step(string Label, double OfferedRate, int Messages, Latency Acknowledged, Latency Delivered, long ExpectedDeliveries, long Losses,
    int FailedSends, long Duplicates, long OrderViolations, double SendsPerSecond, double DeliveriesPerSecond)
{
    public bool Sustained => Losses == 0 && FailedSends == 0 && Delivered.Ms(99) <= 100 && SendsPerSecond >= OfferedRate * 0.95;
}
