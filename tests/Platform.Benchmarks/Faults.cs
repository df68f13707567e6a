using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Platform.Client;
using Platform.Testing;

namespace Platform.Benchmarks;

internal sealed record FaultOptions(string? Only, bool Long, int Sends, double Rate, int Connections, int Conversations)
{
    public static FaultOptions Parse(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        return new FaultOptions(Option("--only"), args.Contains("--long"), int.Parse(Option("--sends") ?? "10000"),
            double.Parse(Option("--rate") ?? "100", System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Option("--connections") ?? "10000"), int.Parse(Option("--conversations") ?? "200"));
    }
}

/// <summary>One scenario's figures, as the report shows them.</summary>
internal sealed class FaultResult(string name, string fault)
{
    public string Name { get; } = name;
    public string Fault { get; } = fault;
    public int Sent { get; set; }
    public long Attempts { get; set; }
    public long GaveUp { get; set; }
    public Dictionary<string, int> FailedRequests { get; set; } = [];
    public Dictionary<string, long> ReceivedPerReceiver { get; set; } = [];
    public long Lost { get; set; }
    public long CommittedNotDelivered { get; set; }
    public long Duplicated { get; set; }
    public long OutOfOrder { get; set; }
    public List<string> Recovery { get; } = [];
    public List<string> Notes { get; } = [];
    public Dictionary<string, object?> Figures { get; } = [];
    public double Seconds { get; set; }
    public string? Error { get; set; }

    public int Failed => FailedRequests.Values.Sum();

    public string FailedText => Failed == 0 ? "0" : $"{Failed} ({string.Join(", ", FailedRequests.OrderByDescending(f => f.Value).Select(f => $"{f.Key}: {f.Value}"))})";
}

/// <summary>
/// The fault campaign: each scenario starts the platform, drives traffic through the Gateway with SDK clients,
/// applies one fault and measures from the outside what users would see.
/// </summary>
internal static class Faults
{
    private static readonly string[] All =
    [
        "messaging-kill", "rabbitmq-kill", "postgres-restart", "partition-gateway-messaging", "partition-messaging-postgres",
        "notifications-sigstop", "offline-catch-up", "rolling-restart", "gateway-restart-10k",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = FaultOptions.Parse(args);
        var scenarios = options.Only is { } only ? only.Split(',') : All;
        if (scenarios.Except(All).ToList() is { Count: > 0 } unknown)
        {
            Console.Error.WriteLine($"unknown scenario {string.Join(", ", unknown)}; one of {string.Join(", ", All)}");
            return 2;
        }
        IdleConnections.RaiseFileLimit(200_000);
        var started = DateTime.UtcNow;
        await using var servers = await LocalInfrastructure.StartAsync("faults");
        var results = new List<FaultResult>();
        foreach (var scenario in scenarios)
        {
            Console.WriteLine($"faults: {scenario}");
            var watch = Stopwatch.StartNew();
            FaultResult result;
            try
            {
                result = scenario switch
                {
                    "messaging-kill" => await MessagingKillAsync(servers, options),
                    "rabbitmq-kill" => await RabbitMqKillAsync(servers),
                    "postgres-restart" => await PostgresRestartAsync(servers),
                    "partition-gateway-messaging" => await PartitionAsync(servers, scenario, p => p.MessagingHttp, "Gateway → Messaging (HTTP)"),
                    "partition-messaging-postgres" => await PartitionAsync(servers, scenario, p => p.MessagingPostgres, "Messaging → PostgreSQL"),
                    "notifications-sigstop" => await NotificationsStopAsync(servers),
                    "offline-catch-up" => await OfflineCatchUpAsync(servers, options),
                    "rolling-restart" => await RollingRestartAsync(servers),
                    "gateway-restart-10k" => await GatewayRestartAsync(servers, options),
                    _ => throw new InvalidOperationException(scenario),
                };
            }
            catch (Exception exception)
            {
                result = new FaultResult(scenario, "") { Error = exception.ToString() };
                Console.WriteLine($"faults: {scenario} failed to run: {exception}");
            }
            result.Seconds = watch.Elapsed.TotalSeconds;
            results.Add(result);
            Console.WriteLine(Row(result));
        }

        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
        var folder = Path.Combine(LocalInfrastructure.RepositoryRoot, ".local", "bench");
        Directory.CreateDirectory(folder);
        var markdown = Markdown(results, started, args);
        await File.WriteAllTextAsync(Path.Combine(folder, $"faults-{stamp}.md"), markdown);
        await File.WriteAllTextAsync(Path.Combine(folder, $"faults-{stamp}.json"), JsonSerializer.Serialize(new
        {
            started, finished = DateTime.UtcNow, args, machine = Machine(), results,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(markdown);
        Console.WriteLine($"Reports: {Path.Combine(folder, $"faults-{stamp}.md")} and .json");
        return results.All(r => r.Error is null) ? 0 : 1;
    }

    // ------------------------------------------------------------------ a stream of sends with receivers

    /// <summary>A sender and resuming receivers in group conversations, all through Gateway 1.</summary>
    private sealed class Stream
    {
        public required FaultPlatform Platform { get; init; }
        public required DeliveryTally Tally { get; init; }
        public required PlatformClient Sender { get; init; }
        public required List<Guid> Conversations { get; init; }
        public required List<(Guid Id, PlatformClient Client, string Name)> Receivers { get; init; }
        public string Prefix { get; } = Guid.NewGuid().ToString("N")[..6];
        public int Started;

        public static async Task<Stream> StartAsync(FaultPlatform platform, int receivers = 3, int conversations = 2, Uri? gateway = null,
            Func<HttpMessageHandler>? senderHandler = null, Func<int, Uri>? receiverGateway = null)
        {
            var sender = await platform.SignUpAsync("sender", gateway, senderHandler);
            var members = new List<(Guid Id, PlatformClient Client, string Name)>();
            for (var i = 0; i < receivers; i++)
            {
                var user = await platform.SignUpAsync($"receiver {i}", receiverGateway?.Invoke(i) ?? gateway);
                members.Add((user.Id, user.Client, $"receiver {i}"));
            }
            var ids = new List<Guid>();
            for (var c = 0; c < conversations; c++)
                ids.Add((await sender.Client.CreateConversationAsync("group", members.Select(m => m.Id), $"faults {c}")).Id);
            var tally = new DeliveryTally();
            foreach (var member in members)
            {
                await member.Client.Realtime.StartAsync();
                _ = tally.ReadAsync(member.Name, member.Client.Realtime);
            }
            return new Stream { Platform = platform, Tally = tally, Sender = sender.Client, Conversations = ids, Receivers = members };
        }

        /// <summary>Open loop: <paramref name="count"/> sends at <paramref name="rate"/>/s, conversations in turn, each retried until acknowledged.</summary>
        public Task SendAsync(int count, double rate, TimeSpan? deadline = null, CancellationToken cancellationToken = default) =>
            OpenLoop.RunAsync(rate, count, async (i, _) =>
            {
                Interlocked.Increment(ref Started);
                await Tally.SendAsync(Sender, Conversations[i % Conversations.Count], $"{Prefix}-{i}", $"message {i}", deadline ?? TimeSpan.FromMinutes(3));
            }, cancellationToken);

        public async Task WaitForStartedAsync(int count)
        {
            while (Volatile.Read(ref Started) < count)
                await Task.Delay(20);
        }

        /// <summary>Settles, then fills the result: per receiver, losses against the acknowledged sends and against the log.</summary>
        public async Task<FaultResult> ResultAsync(FaultResult result, TimeSpan settle)
        {
            var settled = await Tally.SettleAsync(settle);
            if (!settled)
                result.Notes.Add($"not every acknowledged message had arrived {settle.TotalSeconds:0} s after the last send");
            // What the log holds (committed), whether or not its send was acknowledged.
            var committed = new List<string>();
            var logDuplicates = 0;
            foreach (var conversation in Conversations)
            {
                var seen = new HashSet<string>();
                for (long after = 0; ;)
                {
                    var page = await Sender.GetEventsAsync(conversation, after, 500);
                    foreach (var e in page.Items)
                    {
                        after = e.Seq;
                        if (e.Type == "message.posted" && e.Data.TryGetProperty("clientMessageId", out var id) && id.GetString() is { } cid && cid.StartsWith(Prefix, StringComparison.Ordinal))
                        {
                            if (!seen.Add(cid))
                                logDuplicates++;
                            committed.Add(cid);
                        }
                    }
                    if (page.Next is null || page.Items.Count == 0)
                        break;
                }
            }
            result.Sent = Tally.Acknowledged;
            result.Attempts = Tally.Attempts;
            result.GaveUp = Tally.GaveUp;
            result.FailedRequests = Tally.Failures.ToDictionary();
            foreach (var receiver in Tally.Receivers.OrderBy(r => r.Name))
            {
                result.ReceivedPerReceiver[receiver.Name] = receiver.Received;
                result.Lost += Tally.Lost(receiver);
                result.CommittedNotDelivered += committed.Distinct().Count(id => !receiver.Has(id));
                result.Duplicated += receiver.Duplicates;
                result.OutOfOrder += receiver.OutOfOrder;
            }
            result.Duplicated += logDuplicates;
            if (logDuplicates > 0)
                result.Notes.Add($"{logDuplicates} clientMessageIds committed twice in the log");
            var unacknowledgedCommitted = committed.Distinct().Count(id => !Tally.AcknowledgedIds.Contains(id));
            result.Figures["committed"] = committed.Distinct().Count();
            result.Figures["committedButNotAcknowledged"] = unacknowledgedCommitted;
            if (unacknowledgedCommitted > 0)
                result.Notes.Add($"{unacknowledgedCommitted} sends committed although no attempt was acknowledged (the sender gave up); delivered all the same");
            result.Figures["sendsWithAFailedAttempt"] = Tally.SendsThatFailed;
            var faults = Tally.Faults.OrderBy(f => f.Start).ToList();
            for (var f = 0; f < faults.Count; f++)
            {
                var (label, start, end) = faults[f];
                var (first, backlog) = Tally.Recovery(end);
                var lastFailure = Tally.LastFailureAfter(end, f + 1 < faults.Count ? faults[f + 1].Start : long.MaxValue);
                var acknowledged = Tally.FirstAcknowledgedAfter(end);
                result.Recovery.Add($"{label}: fault lasted {DeliveryTally.Seconds(start, end):0.0} s; after it: first 2xx in {Format(acknowledged)}, deliveries again in {Format(first)}, backlog delivered in {Format(backlog)}" +
                                    (lastFailure is { } l ? $", last failed request at {l:0.0} s" : ""));
                result.Figures[$"recovery {label}"] = new { faultSeconds = DeliveryTally.Seconds(start, end), firstAcknowledgedSeconds = acknowledged, firstDeliverySeconds = first, backlogSeconds = backlog, lastFailureSeconds = lastFailure };
            }
            return result;
        }
    }

    private static string Format(double? seconds) => seconds is { } s ? $"{s:0.0} s" : "never";

    // ------------------------------------------------------------------ 1. messaging-kill

    private static async Task<FaultResult> MessagingKillAsync(LocalInfrastructure servers, FaultOptions options)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "messaging-kill");
        var stream = await Stream.StartAsync(platform);
        var result = new FaultResult("messaging-kill", $"kill -9 Messaging 3 times during {options.Sends} sends at {options.Rate}/s; restarted at once on the same port");
        var sending = stream.SendAsync(options.Sends, options.Rate);
        for (var k = 1; k <= 3; k++)
        {
            await stream.WaitForStartedAsync(options.Sends * k / 4);
            var start = Stopwatch.GetTimestamp();
            await platform.Messaging.KillAsync();
            await platform.Messaging.StartAsync();
            stream.Tally.Fault($"kill {k}", start, Stopwatch.GetTimestamp());
        }
        await sending;
        return await stream.ResultAsync(result, TimeSpan.FromSeconds(60));
    }

    // ------------------------------------------------------------------ 2. rabbitmq-kill

    private static async Task<FaultResult> RabbitMqKillAsync(LocalInfrastructure servers)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "rabbitmq-kill");
        var stream = await Stream.StartAsync(platform);
        const int count = 3000;
        var result = new FaultResult("rabbitmq-kill", $"kill -9 RabbitMQ (the Erlang VM) after 1,000 of {count} sends at 100/s; restarted with scripts/infra.sh restart-rabbitmq");
        var sending = stream.SendAsync(count, 100);
        await stream.WaitForStartedAsync(1000);
        var start = Stopwatch.GetTimestamp();
        servers.KillRabbitMq();
        await servers.RestartRabbitMqAsync();
        stream.Tally.Fault("broker down", start, Stopwatch.GetTimestamp());
        await sending;
        return await stream.ResultAsync(result, TimeSpan.FromSeconds(120));
    }

    // ------------------------------------------------------------------ 3. postgres-restart

    private static async Task<FaultResult> PostgresRestartAsync(LocalInfrastructure servers)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "postgres-restart");
        var stream = await Stream.StartAsync(platform);
        const int count = 3000;
        var result = new FaultResult("postgres-restart", $"pg_ctl -m fast stop, then start, after 1,000 of {count} sends at 100/s");
        var sending = stream.SendAsync(count, 100);
        await stream.WaitForStartedAsync(1000);
        var start = Stopwatch.GetTimestamp();
        await servers.StopPostgresAsync();
        var stopped = Stopwatch.GetTimestamp();
        await servers.StartPostgresAsync();
        stream.Tally.Fault("database down", start, Stopwatch.GetTimestamp());
        result.Notes.Add($"fast stop took {DeliveryTally.Seconds(start, stopped):0.0} s, start {DeliveryTally.Seconds(stopped, Stopwatch.GetTimestamp()):0.0} s");
        await sending;
        return await stream.ResultAsync(result, TimeSpan.FromSeconds(120));
    }

    // ------------------------------------------------------------------ 4. partitions

    private static async Task<FaultResult> PartitionAsync(LocalInfrastructure servers, string name, Func<FaultPlatform, TcpProxy> link, string what, int seconds = 30)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, name);
        var stream = await Stream.StartAsync(platform);
        const double rate = 20;
        var count = (int)(rate * (seconds + 30));
        var result = new FaultResult(name, $"{seconds} s blackhole partition {what} (TcpProxy.Blackhole: nothing passes, nothing is closed) during {count} sends at {rate}/s");
        var sending = stream.SendAsync(count, rate);
        await stream.WaitForStartedAsync((int)(rate * 10));
        var start = Stopwatch.GetTimestamp();
        link(platform).Blackhole();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        link(platform).Restore();
        stream.Tally.Fault("partition", start, Stopwatch.GetTimestamp());
        await sending;
        return await stream.ResultAsync(result, TimeSpan.FromSeconds(90));
    }

    // ------------------------------------------------------------------ 5. notifications-sigstop

    private static async Task<FaultResult> NotificationsStopAsync(LocalInfrastructure servers)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "notifications-sigstop");
        await using var push = await WebPushReceiver.StartAsync();
        var sender = await platform.SignUpAsync("sender");
        var recipient = await platform.SignUpAsync("offline recipient");
        await recipient.Client.RegisterPushAsync(push.Endpoint, push.P256dh, push.Auth);
        var direct = (await sender.Client.CreateConversationAsync("direct", [recipient.Id])).Id;
        const int count = 90;
        var result = new FaultResult("notifications-sigstop", $"SIGSTOP Notifications for 60 s during {count} DMs (1/s) to an offline user with a Web Push subscription; then SIGCONT");
        var tally = new DeliveryTally();
        var prefix = Guid.NewGuid().ToString("N")[..6];
        var pushTimes = new List<long>();
        var sending = OpenLoop.RunAsync(1, count, (i, _) => tally.SendAsync(sender.Client, direct, $"{prefix}-{i}", $"dm {i}", TimeSpan.FromMinutes(3)));
        await Task.Delay(TimeSpan.FromSeconds(10));
        var notifications = platform.Processes["notifications"];
        var start = Stopwatch.GetTimestamp();
        var pushedBefore = push.Received.Count;
        FaultPlatform.Signal(notifications, stop: true);
        await Task.Delay(TimeSpan.FromSeconds(60));
        var pushedDuringStop = push.Received.Count - pushedBefore;
        FaultPlatform.Signal(notifications, stop: false);
        var end = Stopwatch.GetTimestamp();
        await sending;

        // The feed must show one notification per DM; pushes settle after the coalescing window and retries.
        var feed = new List<NotificationItem>();
        var settleUntil = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        long? feedComplete = null;
        while (Stopwatch.GetTimestamp() < settleUntil)
        {
            feed = await ReadFeedAsync(recipient.Client);
            if (feed.Count(n => n.ConversationId == direct) >= tally.Acknowledged)
            {
                feedComplete ??= Stopwatch.GetTimestamp();
                if (Stopwatch.GetTimestamp() - feedComplete > 20 * Stopwatch.Frequency)
                    break; // pushes coalesced after the last one have had time to go out
            }
            await Task.Delay(1000);
        }
        var ofDirect = feed.Where(n => n.ConversationId == direct).ToList();
        var perSeq = ofDirect.GroupBy(n => n.Seq).ToList();
        var pushes = push.Received.ToList();
        var pushedIds = pushes.SelectMany(p => p.TryGetProperty("notificationIds", out var ids) ? ids.EnumerateArray().Select(i => i.GetGuid()) : []).ToList();
        var pushedTwice = pushedIds.GroupBy(id => id).Count(g => g.Count() > 1);
        var neverPushed = ofDirect.Count(n => !pushedIds.Contains(n.Id));
        result.Sent = tally.Acknowledged;
        result.Attempts = tally.Attempts;
        result.FailedRequests = tally.Failures.ToDictionary();
        result.ReceivedPerReceiver["feed entries of the DMs"] = ofDirect.Count;
        result.ReceivedPerReceiver["pushes received"] = pushes.Count;
        result.Lost = Math.Max(0, tally.Acknowledged - perSeq.Count);
        result.Duplicated = perSeq.Sum(g => g.Count() - 1) + pushedTwice;
        result.Figures["pushesDuringStop"] = pushedDuringStop;
        result.Figures["notificationsPushedTwice"] = pushedTwice;
        result.Figures["notificationsInNoPush"] = neverPushed;
        result.Figures["pushRequests"] = push.Requests;
        result.Figures["pushesRejected"] = push.Rejected.Count;
        result.Notes.Add($"{pushes.Count} pushes carried {pushedIds.Count} notification ids ({pushedIds.Distinct().Count()} distinct) for {ofDirect.Count} feed entries; " +
                         $"{pushedTwice} ids pushed twice, {neverPushed} feed entries in no push (collapsed under another's, or not pushed); {pushedDuringStop} pushes while stopped");
        result.Recovery.Add($"SIGCONT → feed complete: {(feedComplete is { } f ? $"{DeliveryTally.Seconds(end, f):0.0} s" : "never")}");
        return result;
    }

    private static async Task<List<NotificationItem>> ReadFeedAsync(PlatformClient client)
    {
        var all = new List<NotificationItem>();
        string? cursor = null;
        do
        {
            var page = await client.GetNotificationsAsync(cursor, 100);
            all.AddRange(page.Items);
            cursor = page.Next;
        }
        while (cursor is not null);
        return all;
    }

    // ------------------------------------------------------------------ 6. offline-catch-up

    private static async Task<FaultResult> OfflineCatchUpAsync(LocalInfrastructure servers, FaultOptions options)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "offline-catch-up");
        var stream = await Stream.StartAsync(platform, receivers: 2);
        var offline = new List<int> { 5, 110 };
        if (options.Long)
            offline.Add(3600);
        const double rate = 5;
        var result = new FaultResult("offline-catch-up", $"one receiver offline for {string.Join(", ", offline.Select(s => $"{s} s"))} while messages flow at {rate}/s; it resumes from its saved positions (StartAsync(positions)); the other stays online");
        using var stop = new CancellationTokenSource();
        var total = (int)(rate * (offline.Sum() + 20 * offline.Count + 10));
        var sending = stream.SendAsync(total, rate, cancellationToken: stop.Token);
        var (userId, client, name) = stream.Receivers[0];
        var signIn = client.Options;
        var current = client;
        foreach (var seconds in offline)
        {
            await Task.Delay(TimeSpan.FromSeconds(10));
            var positions = current.Realtime.Positions;
            var start = Stopwatch.GetTimestamp();
            await current.DisposeAsync();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            current = new PlatformClient(new PlatformClientOptions
            {
                GatewayUrl = signIn.GatewayUrl, AccessTokenProvider = signIn.AccessTokenProvider, AcknowledgeDeliveries = false,
                MaxReconnectDelay = signIn.MaxReconnectDelay,
            });
            var back = Stopwatch.GetTimestamp();
            await current.Realtime.StartAsync(positions);
            _ = stream.Tally.ReadAsync(name, current.Realtime);
            stream.Tally.Fault($"offline {seconds} s", start, back);
        }
        await Task.Delay(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        try
        {
            await sending;
        }
        catch (OperationCanceledException)
        {
        }
        var outcome = await stream.ResultAsync(result, TimeSpan.FromSeconds(60));
        await current.DisposeAsync();
        return outcome;
    }

    // ------------------------------------------------------------------ 7. rolling-restart

    private static async Task<FaultResult> RollingRestartAsync(LocalInfrastructure servers)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "rolling-restart", replicas: 2, proxied: false, configure: (name, settings) =>
        {
            // Processes run without a preStop pause: each drains on SIGTERM (not ready, Connection: close, still serving)
            // for longer than the Gateways' active health checks take to see it (1 s interval).
            settings["Platform:ShutdownDelaySeconds"] = "3";
            if (!name.StartsWith("gateway", StringComparison.Ordinal))
                return;
            // Two destinations per cluster (PlatformProcesses adds them); the Gateway takes a stopping destination out of
            // rotation when its readiness probe fails (active) or its connections fail (passive).
            foreach (var cluster in new[] { "identity", "messaging", "presence", "notifications", "media" })
            {
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Enabled"] = "true";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Interval"] = "00:00:01";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Timeout"] = "00:00:01";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Policy"] = "ConsecutiveFailures";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Path"] = "/health/ready";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Passive:Enabled"] = "true";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Passive:Policy"] = "TransportFailureRate";
                settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Passive:ReactivationPeriod"] = "00:00:05";
                settings[$"ReverseProxy:Clusters:{cluster}:Metadata:ConsecutiveFailuresHealthPolicy.Threshold"] = "1";
            }
        });
        var gateways = new[] { platform.Gateway1.BaseAddress, platform.Gateway2.BaseAddress };
        // The ingress in front of the Gateways, stood in for on the client side: round robin, and a request whose
        // connection is refused goes to the other Gateway (nginx's proxy_next_upstream error does this).
        Func<HttpMessageHandler> balancer = () => new TwoGateways(gateways);
        var stream = await Stream.StartAsync(platform, receivers: 4, gateway: gateways[0], senderHandler: balancer, receiverGateway: i => gateways[i % 2]);
        const double rate = 20;
        var result = new FaultResult("rolling-restart", $"SIGTERM rolling restart of every process (2 of each HTTP service behind both Gateways, YARP active+passive health checks; then the 2 Gateways) during sends at {rate}/s and reads of every service's API");
        using var stop = new CancellationTokenSource();
        var sending = stream.SendAsync(100_000, rate, TimeSpan.FromMinutes(2), stop.Token);
        var reading = ReadEveryServiceAsync(stream, balancer, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(5));
        foreach (var service in new[] { "identity", "messaging", "presence", "notifications", "media", "gateway" })
            foreach (var process in platform.Processes.All(service))
            {
                var start = Stopwatch.GetTimestamp();
                var failedBefore = stream.Tally.FailedRequests;
                await process.StopAsync();
                await process.StartAsync();
                var end = Stopwatch.GetTimestamp();
                // The active probe brings it back into rotation; give it that and the passive reactivation before the next.
                await Task.Delay(TimeSpan.FromSeconds(6));
                stream.Tally.Fault($"{Name(platform, process)} restart", start, end);
                result.Notes.Add($"{Name(platform, process)}: down {DeliveryTally.Seconds(start, end):0.0} s, failed requests during its restart: {stream.Tally.FailedRequests - failedBefore}");
            }
        await stop.CancelAsync();
        await Task.WhenAll(sending.ContinueWith(_ => { }), reading.ContinueWith(_ => { }));
        return await stream.ResultAsync(result, TimeSpan.FromSeconds(60));
    }

    private static string Name(FaultPlatform platform, ServiceProcess process) => platform.Processes.Services.Single(s => s.Process == process).Name;

    // Reads of Identity, Messaging, Presence, Notifications and Media through the Gateways, counted as failed on a 5xx or a network error.
    private static async Task ReadEveryServiceAsync(Stream stream, Func<HttpMessageHandler> balancer, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(balancer()) { BaseAddress = new Uri("http://gateway/") };
        var token = await stream.Sender.GetAccessTokenAsync(cancellationToken);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        string[] paths = ["api/v1/users/me", "api/v1/conversations?limit=5", "api/v1/presence/me", "api/v1/notifications?limit=5", $"api/v1/media/{Guid.NewGuid()}/details"];
        for (var i = 0; !cancellationToken.IsCancellationRequested; i++)
        {
            try
            {
                using var response = await http.GetAsync(paths[i % paths.Length], cancellationToken);
                if ((int)response.StatusCode >= 500)
                    stream.Tally.Fail($"GET {paths[i % paths.Length].Split('?')[0].Split('/')[2]}: {(int)response.StatusCode}");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                stream.Tally.Fail($"GET {paths[i % paths.Length].Split('/')[2]}: {DeliveryTally.Describe(exception)}");
            }
            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>Round robin over the Gateways; a request whose connection was refused is sent to the next one.</summary>
    private sealed class TwoGateways(Uri[] gateways) : DelegatingHandler(new SocketsHttpHandler())
    {
        private static int _next;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var first = Interlocked.Increment(ref _next);
            var path = request.RequestUri!.PathAndQuery;
            // Buffered, so it can be sent again (requests here are small).
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var contentType = request.Content?.Headers.ContentType;
            for (var attempt = 0; ; attempt++)
            {
                request.RequestUri = new Uri(gateways[(first + attempt) % gateways.Length], path);
                if (body is not null)
                {
                    request.Content = new ByteArrayContent(body);
                    request.Content.Headers.ContentType = contentType;
                }
                try
                {
                    return await base.SendAsync(request, cancellationToken);
                }
                catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError && attempt < gateways.Length - 1)
                {
                }
            }
        }
    }

    // ------------------------------------------------------------------ 8. gateway-restart-10k

    private static async Task<FaultResult> GatewayRestartAsync(LocalInfrastructure servers, FaultOptions options)
    {
        await using var platform = await FaultPlatform.StartAsync(servers, "gateway-restart-10k", proxied: false);
        var connections = options.Connections;
        var conversations = Math.Min(options.Conversations, connections);
        var result = new FaultResult("gateway-restart-10k", $"kill -9 and restart of the Gateway holding {connections} SDK connections in {conversations} conversations, each of which gets news while it is down");
        var sender = await platform.SignUpAsync("sender", platform.Gateway2.BaseAddress);
        var perConversation = connections / conversations;
        var members = new List<(Guid Conversation, PlatformClient Client)>();
        var memberIds = Enumerable.Range(0, conversations).Select(_ => Enumerable.Range(0, perConversation).Select(_ => Guid.CreateVersion7()).ToList()).ToList();
        await platform.SeedUsersAsync([.. memberIds.SelectMany(ids => ids)]);
        for (var c = 0; c < conversations; c++)
        {
            var ids = memberIds[c];
            var conversation = (await sender.Client.CreateConversationAsync("group", ids, $"room {c}")).Id;
            // WebSockets without the negotiate request: one socket per client, so 10,000 fit under the 20,000 open files a
            // process may have here (with negotiate, its pooled HTTP connection made two). The SDK's default reconnect
            // delay (at most 10 s, full jitter), as apps have it: with 2 s, 10,000 clients retrying against the dead
            // Gateway kept this process (and so the sender of the news) busy for minutes.
            members.AddRange(ids.Select(id => (conversation, platform.MintedClient(id, platform.Gateway1.BaseAddress, DefaultReconnectDelay, skipNegotiation: true))));
        }
        var connecting = Stopwatch.StartNew();
        await Parallel.ForEachAsync(members, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (m, ct) => await m.Client.Realtime.StartAsync(cancellationToken: ct));
        var connected = await WaitAsync(() => members.Count(m => m.Client.Realtime.Positions.GetValueOrDefault(m.Conversation) >= 1), members.Count, TimeSpan.FromMinutes(5));
        result.Figures["connectSeconds"] = connecting.Elapsed.TotalSeconds;
        result.Notes.Add($"{connected} of {members.Count} connections up with their positions in {connecting.Elapsed.TotalSeconds:0} s (harness and Gateway on the same 2 cores)");

        var joinedBefore = await platform.MessagingRequestsAsync("/api/v1/conversations/joined");
        var logBefore = await platform.MessagingRequestsAsync("/api/v1/conversations/{id:guid}/events");
        var reconnectsBefore = members.Sum(m => m.Client.Realtime.Reconnects);
        var start = Stopwatch.GetTimestamp();
        await platform.Gateway1.KillAsync();
        var news = new Dictionary<Guid, long>();
        var tally = new DeliveryTally();
        foreach (var conversation in members.Select(m => m.Conversation).Distinct())
        {
            await tally.SendAsync(sender.Client, conversation, Guid.NewGuid().ToString("N"), "while you were away", TimeSpan.FromMinutes(1));
            news[conversation] = (await sender.Client.GetEventsAsync(conversation, 0, 1000)).Items.Max(e => e.Seq);
        }
        await platform.Gateway1.StartAsync();
        var restarted = Stopwatch.GetTimestamp();
        // What each process spent from the restart until every connection had its news: what limits the figure.
        var usage = new ProcessUsage();
        foreach (var (name, process) in platform.Processes.Services)
            if (process.ProcessId is { } pid)
                usage.Track(name, () => [pid]);
        usage.TrackTree("postgres", Path.Combine(servers.Folder, "postgres", "data"));
        usage.TrackTree("rabbitmq", Path.Combine(servers.Folder, "rabbitmq"));
        usage.Track("campaign (the clients)", () => [Environment.ProcessId]);
        usage.Begin();
        var caughtUp = await WaitAsync(() => members.Count(m => m.Client.Realtime.Positions.GetValueOrDefault(m.Conversation) >= news[m.Conversation]),
            members.Count, TimeSpan.FromMinutes(5));
        var allNews = Stopwatch.GetTimestamp();
        var cpu = usage.End();
        result.Notes.Add("CPU seconds from the restart until every connection had the news: " +
                         string.Join(", ", cpu.OrderByDescending(p => p.Value.CpuSeconds).Select(p => $"{p.Key} {p.Value.CpuSeconds:0.0}")) +
                         $" ({DeliveryTally.Seconds(restarted, allNews):0.0} s of two cores: {2 * DeliveryTally.Seconds(restarted, allNews):0.0} CPU seconds)");
        foreach (var (name, (cpuSeconds, _)) in cpu)
            result.Figures[$"cpuSeconds.{name}"] = cpuSeconds;
        await Task.Delay(TimeSpan.FromSeconds(10)); // a reconnect loop would show up as more reads meanwhile
        var joined = await platform.MessagingRequestsAsync("/api/v1/conversations/joined") - joinedBefore;
        var logReads = await platform.MessagingRequestsAsync("/api/v1/conversations/{id:guid}/events") - logBefore;
        var reconnects = members.Sum(m => m.Client.Realtime.Reconnects) - reconnectsBefore;
        result.Sent = tally.Acknowledged;
        result.Attempts = tally.Attempts;
        result.FailedRequests = tally.Failures.ToDictionary();
        result.ReceivedPerReceiver["connections with the news"] = caughtUp;
        result.Lost = members.Count - caughtUp;
        result.Recovery.Add($"Gateway restarted {DeliveryTally.Seconds(start, restarted):0.0} s after the kill; every connection had the news {DeliveryTally.Seconds(restarted, allNews):0.0} s after it was ready (target 30 s)");
        result.Figures["secondsToAllNews"] = DeliveryTally.Seconds(restarted, allNews);
        result.Figures["joinedReads"] = joined;
        result.Figures["logReads"] = logReads;
        result.Figures["connections"] = members.Count;
        result.Figures["reconnects"] = reconnects;
        result.Notes.Add($"Messaging answered {joined} joined reads ({joined / (double)members.Count:0.00} per connection; target at most 1) and {logReads} log reads " +
                         $"({logReads / (double)members.Count:0.00} per connection) for {members.Count} connections; the SDK counted {reconnects} reconnects");
        return result;
    }

    private static readonly TimeSpan DefaultReconnectDelay = new PlatformClientOptions { GatewayUrl = new Uri("http://localhost/") }.MaxReconnectDelay;

    private static async Task<int> WaitAsync(Func<int> count, int target, TimeSpan timeout)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        int now;
        while ((now = count()) < target && Stopwatch.GetTimestamp() < stop)
            await Task.Delay(100);
        return now;
    }

    // ------------------------------------------------------------------ report

    private static string Machine() =>
        $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";

    private static string Row(FaultResult r) =>
        r.Error is not null
            ? $"| {r.Name} | did not run: {r.Error.Split('\n')[0]} | | | | | | |"
            : $"| {r.Name} | {r.Sent} | {string.Join(", ", r.ReceivedPerReceiver.Values)} | {r.Lost} | {r.Duplicated} | {r.OutOfOrder} | {r.FailedText} | {string.Join("; ", r.Recovery)} |";

    private static string Markdown(List<FaultResult> results, DateTime started, string[] args)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Fault campaign, {started:yyyy-MM-dd HH:mm}–{DateTime.UtcNow:HH:mm} UTC");
        md.AppendLine();
        md.AppendLine($"`faults {string.Join(' ', args.Skip(1))}` on {Machine()}. PostgreSQL with fsync and synchronous commit on; every process on the same cores.");
        md.AppendLine();
        md.AppendLine("| scenario | sent (2xx) | received per receiver | lost | duplicated | out of order | failed requests | recovery |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            md.AppendLine(Row(r));
        foreach (var r in results)
        {
            md.AppendLine();
            md.AppendLine($"## {r.Name} ({r.Seconds:0} s)");
            md.AppendLine(r.Fault);
            md.AppendLine();
            if (r.Error is not null)
            {
                md.AppendLine("```");
                md.AppendLine(r.Error);
                md.AppendLine("```");
                continue;
            }
            md.AppendLine($"- sent: {r.Sent} acknowledged in {r.Attempts} attempts{(r.GaveUp > 0 ? $", {r.GaveUp} given up" : "")}" +
                          $"{(r.Figures.TryGetValue("sendsWithAFailedAttempt", out var failedSends) ? $" ({failedSends} sends needed more than one)" : "")}; failed requests: {r.FailedText}");
            md.AppendLine($"- received: {string.Join(", ", r.ReceivedPerReceiver.Select(x => $"{x.Key} {x.Value}"))}");
            md.AppendLine($"- lost {r.Lost} (committed but not delivered: {r.CommittedNotDelivered}), duplicated {r.Duplicated}, out of order {r.OutOfOrder}");
            foreach (var recovery in r.Recovery)
                md.AppendLine($"- recovery: {recovery}");
            foreach (var note in r.Notes)
                md.AppendLine($"- {note}");
        }
        return md.ToString();
    }
}
