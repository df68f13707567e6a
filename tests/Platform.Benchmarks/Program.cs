// The benchmark harness: one command that starts PostgreSQL (durability on) and RabbitMQ, Messaging and a Gateway,
// measures the baselines and the platform in the same run, and writes a Markdown and a JSON report to .local/bench/.
//   dotnet run -c Release --project tests/Platform.Benchmarks -- [all|baselines|capacity|latency|fanout|fanout-node|idle|history|search|send-to-publish] [options]
//   dotnet run -c Release --project tests/Platform.Benchmarks -- faults [--only NAME[,NAME]] [--long] (the fault campaign; RELIABILITY.md)
//   dotnet run -c Release --project tests/Platform.Benchmarks -- password-hash [iterations ...] (Identity's hashing cost per sign-in)
// Options: --users 40 --conversations 8 --members 5 --size 100 --duration 15 --warmup 3 --protocol json|msgpack
//          --rate R (latency without capacity) --rooms 10,100,1000 --fanout-deliveries 20000 --idle 15000 --history-max 1000000
//          --search-messages 1000000 --search-conversations 100
//          --receivers sdk|node (capacity and latency: the users receive with the .NET SDK, or through one Node process with the official JS client)
//          --trace-every 4 (1 in N sends of the latency step traced through the services; 0: none)
//          --acks off|on (SDK receivers acknowledge deliveries as the SDK does by default: the hub's Ack, delivered receipts)
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Platform.Benchmarks;

if (args.FirstOrDefault() == IdleConnections.BareHubServer)
{
    await IdleConnections.ServeBareHubAsync();
    return 0;
}
if (args.FirstOrDefault() == "faults")
    return await Faults.RunAsync(args);
if (args.FirstOrDefault() == "password-hash")
    return PasswordHashCost.Run(args);
var options = BenchOptions.Parse(args);
if (options.Scenario == "send-to-publish")
{
    await using var legacyInfrastructure = await LocalInfrastructure.StartAsync();
    var legacy = await SendToPublish.RunAsync(new Arguments("send-to-publish", (int)(options.Rate ?? 100), options.Messages, options.WarmupMessages));
    Console.WriteLine(legacy);
    return 0;
}
var known = new[] { "all", "baselines", "capacity", "latency", "fanout", "fanout-node", "idle", "history", "search", "backlog" };
var scenarios = options.Scenario.Split(',', StringSplitOptions.RemoveEmptyEntries);
if (scenarios.Length == 0 || !scenarios.All(known.Contains))
{
    Console.Error.WriteLine($"usage: Platform.Benchmarks [{string.Join('|', known)}|send-to-publish][,...] [--option value ...]; see BENCHMARKS.md");
    return 2;
}
bool Runs(string scenario) => scenarios.Contains("all") || scenarios.Contains(scenario);

IdleConnections.RaiseFileLimit(200_000);
await using var infrastructure = await LocalInfrastructure.StartAsync();
var bench = Path.Combine(LocalInfrastructure.RepositoryRoot, ".local", "bench");
var usage = new ProcessUsage();
usage.TrackTree("postgres", Path.Combine(bench, "postgres", "data"));
usage.TrackTree("rabbitmq", Path.Combine(bench, "rabbitmq"));
usage.Track("harness", () => [Environment.ProcessId]);
var report = new Report(options);
var messagePack = options.Protocol == "msgpack";
var referenceRate = options.Rate ?? 200;

// fanout-node alone skips the request baselines (B0-B3): it has its own, the bare hub measured the same way.
var onlyNode = scenarios.All(s => s == "fanout-node");
Console.WriteLine("bench: baselines");
var (bareHub, bareAddress) = await Baselines.StartBareHubAsync();
if (!onlyNode)
{
    report.Fsync = Baselines.Fsync(Path.Combine(bench, "postgres"), 300);
    report.Baselines["B0 TCP round trip (loopback), back to back"] = await Baselines.TcpRoundTripAsync(3000, options.Size);
    report.Baselines["B0 TCP round trip (loopback) at 20/s, cores idle between"] = await Baselines.TcpRoundTripAsync(200, options.Size, 20);
    report.Baselines["B1 SignalR echo (bare hub)"] = await Baselines.SignalREchoAsync(bareAddress, (int)(referenceRate * 10), options.Size, referenceRate, messagePack);
    report.Baselines["B2 PostgreSQL insert + commit"] = await Baselines.PostgresInsertAsync(Environment.GetEnvironmentVariable("PLATFORM_POSTGRES_CONNECTION")!, (int)(referenceRate * 10), options.Size, referenceRate);
    report.Baselines["B3 RabbitMQ publish-confirm-consume"] = await Baselines.RabbitMqAsync(Environment.GetEnvironmentVariable("PLATFORM_RABBITMQ_URI")!, (int)(referenceRate * 10), options.Size, referenceRate);
}
if (Runs("fanout"))
    foreach (var size in options.RoomSizes)
    {
        var rate = FanoutRate(size);
        var (latency, perSecond) = await Baselines.SignalRBroadcastAsync(bareAddress, size, (int)(rate * options.Duration), rate, options.Size, messagePack);
        report.BroadcastBaselines[size] = (latency, perSecond, rate);
    }
await bareHub.DisposeAsync();
if (Runs("idle"))
{
    Console.WriteLine($"bench: {options.Idle} idle connections on a bare hub");
    report.IdleBare = await IdleConnections.RunBareAsync(options.Idle);
}

if (options.Scenario != "baselines")
{
    Console.WriteLine("bench: starting Messaging, Presence, Notifications, Media and a Gateway");
    await using var platform = await PlatformUnderTest.StartAsync();
    platform.AcknowledgeDeliveries = options.Acks;
    usage.Track("messaging", () => platform.Messaging.ProcessId is { } id ? [id] : []);
    usage.Track("gateway", () => platform.Gateway.ProcessId is { } id ? [id] : []);
    foreach (var (name, process) in new[] { "presence", "notifications", "media" }.Zip(platform.Others))
        usage.Track(name, () => process.ProcessId is { } id ? [id] : []);

    if (Runs("capacity") || Runs("latency") || scenarios.Contains("backlog"))
    {
        // The platform's own background work with nobody connected (timers, sweeps, the outbox relay): what the
        // connected users' idle row is compared with.
        // After the services' start-up work (schema checks, the JIT compiling what start-up ran) has settled.
        Console.WriteLine("bench: nobody connected, idle");
        await Task.Delay(TimeSpan.FromSeconds(20));
        usage.Begin();
        await Task.Delay(TimeSpan.FromSeconds(options.Duration));
        report.Usage["nobody connected, idle"] = usage.End();
        // --receivers node: the users receive through one Node process with the official JS client (issue 20's independent client).
        await using var nodeRooms = options.Receivers == "node" ? await NodeRooms.CreateAsync(platform, options.Users, options.Conversations, options.Members) : null;
        if (nodeRooms is not null)
            usage.Track("node client", () => [nodeRooms.ProcessId]);
        IRoomLoad rooms = nodeRooms is not null ? nodeRooms : await Rooms.CreateAsync(platform, options.Users, options.Conversations, options.Members, messagePack);
        double? sustainable = options.Rate;
        // Until the JIT's tiering has settled (it still compiled hundreds of methods a second after 10 s at 20/s):
        // ramped, so the warm-up itself does not queue up.
        Console.WriteLine("bench: warming up (JIT, connection pools, caches)");
        foreach (var (rate, seconds) in new[] { (20.0, 5), (50.0, 10), (100.0, 10) })
            await rooms.SendAsync(rate, (int)(rate * seconds), 0, options.Size, "warm-up");
        // What the connected users cost while nobody sends (keep-alives, presence, the services' own timers).
        Console.WriteLine("bench: connected and idle");
        await Task.Delay(TimeSpan.FromSeconds(3));
        usage.Begin();
        await Task.Delay(TimeSpan.FromSeconds(options.Duration));
        report.Usage["connected, idle"] = usage.End();
        report.IdleSeconds = options.Duration;
        if (Runs("capacity"))
        {
            usage.Begin();
            foreach (var rate in new double[] { 25, 50, 100, 200, 300, 400, 600, 800, 1200 })
            {
                Console.WriteLine($"bench: capacity at {rate} messages/s");
                var step = await rooms.SendAsync(rate, (int)(rate * options.Duration), (int)(rate * options.Warmup), options.Size, $"load-{rate}");
                report.Curve.Add(step);
                if (!step.Sustained)
                    break;
                sustainable = rate;
            }
            report.Usage["capacity"] = usage.End();
        }
        if (Runs("capacity") || Runs("latency"))
        {
            var latencyRate = Math.Max(5, Math.Round((sustainable ?? 100) * (Runs("capacity") ? 0.2 : 1)));
            Console.WriteLine($"bench: latency at {latencyRate} messages/s");
            usage.Begin();
            report.Latency = await rooms.SendAsync(latencyRate, (int)(latencyRate * options.Duration * 2), (int)(latencyRate * options.Warmup), options.Size, "latency", options.TraceEvery);
            report.Usage["latency"] = usage.End();
            if (options.TraceEvery > 0 && nodeRooms is null)
            {
                await platform.Traces.SettleAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(20));
                report.Hops = WhereTheTimeGoes.Analyze(platform.Traces, rooms.Traced);
                report.TraceTrees = string.Join("\n", rooms.Traced.Select(t => WhereTheTimeGoes.Describe(platform.Traces.Trace(t.TraceId), t)));
            }
            report.MaxSustainable = sustainable;
        }
        // Not part of "all": Notifications frozen while the users send, then timed catching up (BENCHMARKS.md, "backlog").
        if (scenarios.Contains("backlog"))
        {
            report.Backlog = await NotificationsBacklog.RunAsync(platform, rooms, usage, options.Backlog, options.Rate ?? 200, options.Size);
            report.Usage["backlog (the drain)"] = report.Backlog.Usage;
        }
    }

    if (Runs("fanout"))
        foreach (var size in options.RoomSizes)
        {
            Console.WriteLine($"bench: fan-out in a room of {size}");
            var room = await Rooms.CreateAsync(platform, size, 1, size, messagePack);
            var rate = FanoutRate(size);
            usage.Begin();
            report.Fanout[size] = await room.SendAsync(rate, (int)(rate * options.Duration), (int)(rate * options.Warmup), options.Size, $"room-{size}");
            report.Usage[$"fanout-{size}"] = usage.End();
        }

    // Not part of "all": the official JS client in a Node process receives one room's messages, from a bare hub and
    // from the Gateway, rates ramped until p99 passes 100 ms (BENCHMARKS.md, "fanout-node").
    if (scenarios.Contains("fanout-node"))
    {
        var receivers = options.RoomSizes.Max() - 1;
        Console.WriteLine($"bench: fanout-node: a room of {receivers + 1}, {receivers} receivers in one Node process, bare hub first");
        // BENCH_FANOUT_ONLY=platform (or bare) measures one side only: for profiling, not for the report's ratio.
        var only = Environment.GetEnvironmentVariable("BENCH_FANOUT_ONLY");
        if (only is null or "bare")
            report.NodeCurves.Add(await NodeFanout.BareAsync(usage, receivers, options));
        if (only is null or "platform")
            report.NodeCurves.Add(await NodeFanout.PlatformAsync(platform, usage, receivers, options));
    }

    if (Runs("history"))
    {
        Console.WriteLine($"bench: history up to {options.HistoryMax} events");
        usage.Begin();
        report.History = await History.RunAsync(platform, options.HistoryMax, options.Size);
        report.Usage["history"] = usage.End();
    }

    // Not part of "all": seeding a million messages takes minutes of its own.
    if (scenarios.Contains("search"))
    {
        Console.WriteLine($"bench: search over {options.SearchMessages} messages in {options.SearchConversations} conversations");
        usage.Begin();
        report.Search = await SearchBench.RunAsync(platform, options.SearchMessages, options.SearchConversations);
        report.Usage["search"] = usage.End();
    }

    if (Runs("idle"))
    {
        Console.WriteLine($"bench: {options.Idle} idle connections");
        report.Idle = await IdleConnections.RunAsync(platform, options.Idle);
    }
}

var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
var markdown = report.Markdown();
await File.WriteAllTextAsync(Path.Combine(bench, $"report-{stamp}.md"), markdown);
await File.WriteAllTextAsync(Path.Combine(bench, $"report-{stamp}.json"), report.Json());
if (report.TraceTrees is { } trees)
    await File.WriteAllTextAsync(Path.Combine(bench, $"traces-{stamp}.txt"), trees);
var charts = Charts.Write(report, bench, stamp);
Console.WriteLine(markdown);
Console.WriteLine($"Reports: {Path.Combine(bench, $"report-{stamp}.md")} and .json");
foreach (var chart in charts)
    Console.WriteLine($"Chart: {chart}");
return 0;

// At most 50 messages/s into one room: below what one conversation sustains here, so the fan-out is what is measured.
double FanoutRate(int size) => Math.Clamp(Math.Round(options.FanoutDeliveries / (double)Math.Max(1, size - 1)), 1, 50);

namespace Platform.Benchmarks
{
    internal sealed record BenchOptions(
        string Scenario, int Users, int Conversations, int Members, int Size, int Duration, int Warmup, string Protocol, double? Rate,
        int[] RoomSizes, int FanoutDeliveries, int Idle, long HistoryMax, int Messages, int WarmupMessages, int TraceEvery,
        long SearchMessages, int SearchConversations, string Receivers, int Backlog, bool Acks)
    {
        public static BenchOptions Parse(string[] args)
        {
            string Option(string name, string fallback)
            {
                var index = Array.IndexOf(args, name);
                return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
            }
            var scenario = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
            return new BenchOptions(scenario, int.Parse(Option("--users", "40")), int.Parse(Option("--conversations", "8")), int.Parse(Option("--members", "5")),
                int.Parse(Option("--size", "100")), int.Parse(Option("--duration", "15")), int.Parse(Option("--warmup", "3")), Option("--protocol", "json"),
                Option("--rate", "") is { Length: > 0 } rate ? double.Parse(rate, System.Globalization.CultureInfo.InvariantCulture) : null,
                Option("--rooms", "10,100,1000").Split(',').Select(int.Parse).ToArray(), int.Parse(Option("--fanout-deliveries", "20000")),
                int.Parse(Option("--idle", "15000")), long.Parse(Option("--history-max", "1000000")),
                int.Parse(Option("--messages", "2000")), int.Parse(Option("--warmup-messages", "200")), int.Parse(Option("--trace-every", "4")),
                long.Parse(Option("--search-messages", "1000000")), int.Parse(Option("--search-conversations", "100")),
                Option("--receivers", "sdk"), int.Parse(Option("--backlog", "5000")), Option("--acks", "off") == "on");
        }
    }

    internal sealed record Arguments(string Scenario, int Rate, int Messages, int Warmup);

    internal sealed class Report(BenchOptions options)
    {
        public Latency? Fsync { get; set; }
        public Dictionary<string, Latency> Baselines { get; } = [];
        public Dictionary<int, (Latency Latency, double DeliveriesPerSecond, double Rate)> BroadcastBaselines { get; } = [];
        public List<Step> Curve { get; } = [];
        public double? MaxSustainable { get; set; }
        public Step? Latency { get; set; }
        public HopTable? Hops { get; set; }
        public string? TraceTrees { get; set; }
        public Dictionary<int, Step> Fanout { get; } = [];
        public List<NodeCurve> NodeCurves { get; } = [];
        public List<HistoryRow> History { get; set; } = [];
        public SearchRow? Search { get; set; }
        public BacklogRow? Backlog { get; set; }
        public IdleResult? Idle { get; set; }
        public IdleResult? IdleBare { get; set; }
        public Dictionary<string, Dictionary<string, (double CpuSeconds, double PeakRssMiB)>> Usage { get; } = [];

        /// <summary>How long the connected users were measured idle (the "connected, idle" usage row).</summary>
        public int IdleSeconds { get; set; }

        private static string Header => "| | p50 | p90 | p99 | p99.9 | max | count |\n|---|---|---|---|---|---|---|";

        public string Markdown()
        {
            var md = new StringBuilder();
            md.AppendLine($"# Benchmark report, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
            md.AppendLine();
            md.AppendLine($"Machine: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}. " +
                          $"Every process on the same cores. PostgreSQL with fsync and synchronous commit on. Payload {options.Size} bytes, protocol {options.Protocol}, open loop, warm-up excluded. Latencies in ms.");
            md.AppendLine();
            md.AppendLine("## Baselines (same run)");
            md.AppendLine(Header);
            if (Fsync is not null)
                md.AppendLine(Fsync.Row("disk: 8 kB write + fsync"));
            md.AppendLine(OpenLoop.Lateness.Row("harness: how late open-loop sends started (its own error, in every latency)"));
            foreach (var (name, latency) in Baselines)
                md.AppendLine(latency.Row(name));
            foreach (var (size, (latency, perSecond, rate)) in BroadcastBaselines)
                md.AppendLine(latency.Row($"B1g bare SignalR broadcast, room of {size} at {rate}/s ({perSecond:0} deliveries/s)"));
            if (Latency is { } l)
            {
                md.AppendLine();
                md.AppendLine($"## (a) Latency at {l.OfferedRate:0} messages/s{(MaxSustainable is { } max && Curve.Count > 0 ? $" (20% of the maximum sustainable {max:0}/s)" : "")}");
                md.AppendLine($"{options.Users} users, {options.Conversations} conversations of {options.Members} members, each message to every other member; receivers: {(options.Receivers == "node" ? "one Node process with the official JS client (--receivers node)" : options.Acks ? "the .NET SDK, acknowledging deliveries (--acks on)" : "the .NET SDK")}.");
                md.AppendLine(Header);
                md.AppendLine(l.Delivered.Row(options.Receivers == "node" ? "send → delivered at each recipient (official JS client, one Node process)" : "send → delivered at each recipient (SDK)"));
                md.AppendLine(l.Acknowledged.Row("send → 201 at the sender"));
                md.AppendLine();
                md.AppendLine($"Ratios of the median: delivered / B1 echo = {Ratio(l.Delivered, "B1")}, / B2 insert = {Ratio(l.Delivered, "B2")}, / B3 broker = {Ratio(l.Delivered, "B3")}, / B0 TCP = {Ratio(l.Delivered, "B0")}.");
                md.AppendLine($"Losses {l.Losses}, duplicates {l.Duplicates}, order violations {l.OrderViolations}, failed sends {l.FailedSends}; {l.SendsPerSecond:0} sends/s, {l.DeliveriesPerSecond:0} deliveries/s.");
            }
            if (Hops is { } hops)
            {
                md.AppendLine();
                md.AppendLine($"## (a) Where the time goes: {hops.Complete} traced sends of the latency step (1 in {options.TraceEvery}; {hops.Traced - hops.Complete} incomplete)");
                md.AppendLine("From the services' spans (OpenTelemetry, exported to the harness) and the harness's clock: a send's hops follow each other, so they add up to its latency " +
                              $"(percentiles do not add up). A send ran {hops.DatabaseCommands:0} database commands (median) before its COMMIT. " +
                              $"The services exported {hops.Spans} spans in {hops.Traces} traces. Latencies in ms.");
                md.AppendLine("| path | hop | p50 | p90 | p99 | count |");
                md.AppendLine("|---|---|---|---|---|---|");
                foreach (var hop in hops.Hops)
                    md.AppendLine($"| {hop.Path} | {hop.Name} | {hop.Latency.Ms(50):0.00} | {hop.Latency.Ms(90):0.00} | {hop.Latency.Ms(99):0.00} | {hop.Latency.Count} |");
            }
            if (Curve.Count > 0)
            {
                md.AppendLine();
                md.AppendLine($"## (b, f) Latency versus offered load; maximum sustainable (p99 ≤ 100 ms, nothing lost): {(MaxSustainable is { } m ? $"{m:0} messages/s" : "below the first step")}");
                md.AppendLine("| offered/s | sends/s | deliveries/s | p50 | p90 | p99 | p99.9 | max | losses | dup | order | failed |");
                md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
                foreach (var s in Curve)
                    md.AppendLine($"| {s.OfferedRate:0} | {s.SendsPerSecond:0} | {s.DeliveriesPerSecond:0} | {s.Delivered.Ms(50):0.0} | {s.Delivered.Ms(90):0.0} | {s.Delivered.Ms(99):0.0} | {s.Delivered.Ms(99.9):0.0} | {s.Delivered.MaxMs:0.0} | {s.Losses} | {s.Duplicates} | {s.OrderViolations} | {s.FailedSends} |");
            }
            if (Fanout.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("## (c) Fan-out");
                md.AppendLine("| room | messages/s | deliveries/s | vs bare broadcast | p50 | p99 | p99.9 | losses | dup | order |");
                md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
                foreach (var (size, s) in Fanout)
                {
                    var bare = BroadcastBaselines.TryGetValue(size, out var b) ? $"{s.DeliveriesPerSecond / b.DeliveriesPerSecond:0.00}× ({b.DeliveriesPerSecond:0}/s)" : "-";
                    md.AppendLine($"| {size} | {s.OfferedRate:0} | {s.DeliveriesPerSecond:0} | {bare} | {s.Delivered.Ms(50):0.0} | {s.Delivered.Ms(99):0.0} | {s.Delivered.Ms(99.9):0.0} | {s.Losses} | {s.Duplicates} | {s.OrderViolations} |");
                }
            }
            if (NodeCurves.Count > 0)
                md.Append(NodeFanoutReport.Markdown(NodeCurves, options));
            if (Idle is { } idle)
            {
                md.AppendLine();
                md.AppendLine("## (d) Idle connections on one Gateway instance");
                md.AppendLine($"{idle.Held} connections held (opened in {idle.SecondsToOpen:0} s); Gateway RSS {idle.RssBeforeMiB:0} → {idle.RssAfterMiB:0} MiB: **{idle.ConnectionsPerGiB:0} connections per GiB** " +
                              $"({1024 * 1024 / idle.ConnectionsPerGiB:0.0} KiB each).");
                if (IdleBare is { } bare)
                    md.AppendLine($"Baseline, a bare SignalR hub in its own process: {bare.Held} held, RSS {bare.RssBeforeMiB:0} → {bare.RssAfterMiB:0} MiB: {bare.ConnectionsPerGiB:0} per GiB " +
                                  $"({1024 * 1024 / bare.ConnectionsPerGiB:0.0} KiB each); the Gateway holds {idle.ConnectionsPerGiB / bare.ConnectionsPerGiB:0.00}× as many per GiB.");
            }
            if (History.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("## (e) Append and history-page latency as a conversation grows");
                md.AppendLine("The log is grown between sizes by bulk seeding (Messaging's own rows in large transactions, not published), then VACUUM (ANALYZE) as autovacuum would; sizes on disk with indexes.");
                md.AppendLine("| events | seeded in | mt_events | mt_doc_message | append p50 | append p99 | newest page p50 | newest p99 | middle page p50 | middle p99 |");
                md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
                foreach (var h in History)
                    md.AppendLine($"| {h.Events} | {h.SeedSeconds:0.0} s | {h.EventsMiB:0.0} MiB | {h.MessagesMiB:0.0} MiB | {h.Append.Ms(50):0.0} | {h.Append.Ms(99):0.0} | {h.Newest.Ms(50):0.0} | {h.Newest.Ms(99):0.0} | {h.Middle.Ms(50):0.0} | {h.Middle.Ms(99):0.0} |");
            }
            if (Search is { } search)
            {
                md.AppendLine();
                md.AppendLine("## (f) Message search latency");
                md.AppendLine($"{search.Messages} messages stored ({search.MessagesMiB:0.0} MiB with indexes), {search.Searchable} of them in the searcher's conversations; " +
                              $"seeded in {search.SeedSeconds:0.0} s, then VACUUM (ANALYZE). 100 requests per kind through the Gateway, open loop at 20/s.");
                md.AppendLine("| query | q | hits (first page) | p50 | p90 | p99 | max |");
                md.AppendLine("|---|---|---|---|---|---|---|");
                foreach (var (kind, q, latency, hits) in search.Kinds)
                    md.AppendLine($"| {kind} | `{q}` | {hits} | {latency.Ms(50):0.0} | {latency.Ms(90):0.0} | {latency.Ms(99):0.0} | {latency.MaxMs:0.0} |");
            }
            if (Backlog is { } backlog)
            {
                md.AppendLine();
                md.AppendLine("## (g) Notifications catching up");
                md.AppendLine($"{backlog.Events} messages sent while Notifications was frozen (SIGSTOP), {options.Rate ?? 200}/s; resumed, it processed them in " +
                              $"{backlog.DrainSeconds:0.00} s: **{backlog.EventsPerSecond:0} events/s**. CPU per event over the drain: Notifications " +
                              $"{backlog.CpuMsPerEvent("notifications"):0.00} ms, PostgreSQL {backlog.CpuMsPerEvent("postgres"):0.00} ms, RabbitMQ {backlog.CpuMsPerEvent("rabbitmq"):0.00} ms.");
            }
            if (Usage.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("## CPU seconds and peak RSS (MiB) per process, per scenario");
                md.AppendLine("CPU: seconds used during the scenario (all cores). RSS: the peak; for PostgreSQL and RabbitMQ the sum over their processes, which counts PostgreSQL's shared buffers once per backend.");
                var processes = Usage.Values.SelectMany(u => u.Keys).Distinct().ToList();
                md.AppendLine("| scenario | " + string.Join(" | ", processes) + " |");
                md.AppendLine("|---|" + string.Concat(processes.Select(_ => "---|")));
                foreach (var (scenario, values) in Usage)
                    md.AppendLine($"| {scenario} | " + string.Join(" | ", processes.Select(p => values.TryGetValue(p, out var v) ? $"{v.CpuSeconds:0.0} s, {v.PeakRssMiB:0}" : "-")) + " |");
                if (Usage.TryGetValue("capacity", out var capacity) && Curve.Count > 0)
                {
                    // Every message the capacity steps sent, warm-up seconds included (they run inside the measured interval).
                    var messages = Curve.Sum(step => step.Messages + (int)(step.OfferedRate * options.Warmup));
                    md.AppendLine();
                    md.AppendLine($"CPU per message over the capacity steps ({messages:N0} messages, warm-ups included): " +
                        string.Join(", ", capacity.OrderByDescending(p => p.Value.CpuSeconds).Select(p => $"{p.Key} {1000 * p.Value.CpuSeconds / messages:0.00} ms")) +
                        $"; all processes **{1000 * capacity.Sum(p => p.Value.CpuSeconds) / messages:0.00} ms**.");
                }
                if (Usage.TryGetValue("connected, idle", out var quiet) && IdleSeconds > 0)
                    md.AppendLine($"Connected and idle ({IdleSeconds} s, no sends): " +
                        string.Join(", ", quiet.OrderByDescending(p => p.Value.CpuSeconds).Select(p => $"{p.Key} {100 * p.Value.CpuSeconds / IdleSeconds:0.0}%")) +
                        $" of a core; all processes {100 * quiet.Sum(p => p.Value.CpuSeconds) / IdleSeconds:0.0}%.");
                if (Usage.TryGetValue("connected, idle", out var connected) && Usage.TryGetValue("nobody connected, idle", out var nobody) && IdleSeconds > 0)
                {
                    // The services' CPU only (not the clients' processes): what the connected users add to the platform.
                    static double Services(Dictionary<string, (double CpuSeconds, double PeakRssMiB)> usage) =>
                        usage.Where(p => p.Key is not ("harness" or "node client")).Sum(p => p.Value.CpuSeconds);
                    var added = Services(connected) - Services(nobody);
                    md.AppendLine($"Nobody connected ({IdleSeconds} s): the services and servers {100 * Services(nobody) / IdleSeconds:0.0}% of a core; with the " +
                        $"{options.Users} users connected and idle {100 * Services(connected) / IdleSeconds:0.0}%: " +
                        (added > 0
                            ? $"{1e6 * added / IdleSeconds / options.Users:0.0} µs of CPU per second per connected user (keep-alives included)."
                            : "no more than with nobody connected (the connected users' cost, keep-alives included, is below what this measures)."));
                }
            }
            return md.ToString();
        }

        private string Ratio(Latency ours, string baseline)
        {
            var found = Baselines.FirstOrDefault(b => b.Key.StartsWith(baseline + " ", StringComparison.Ordinal)).Value;
            return found is null ? "-" : $"{ours.Ms(50) / found.Ms(50):0.0}×";
        }

        public string Json() => JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["options"] = options,
            ["machine"] = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription },
            ["fsync"] = Fsync?.Summary(),
            ["harnessLateness"] = OpenLoop.Lateness.Summary(),
            ["baselines"] = Baselines.ToDictionary(b => b.Key, b => b.Value.Summary()),
            ["broadcastBaselines"] = BroadcastBaselines.ToDictionary(b => b.Key.ToString(), b => new { latency = b.Value.Latency.Summary(), deliveriesPerSecond = b.Value.DeliveriesPerSecond, rate = b.Value.Rate }),
            ["latency"] = Latency is null ? null : StepJson(Latency),
            ["whereTheTimeGoes"] = Hops is { } h
                ? new { h.Traced, h.Complete, h.DatabaseCommands, h.Spans, h.Traces, hops = h.Hops.Select(hop => new { hop.Path, hop.Name, latency = hop.Latency.Summary() }).ToList() }
                : null,
            ["maxSustainable"] = MaxSustainable,
            ["curve"] = Curve.Select(StepJson).ToList(),
            ["fanout"] = Fanout.ToDictionary(f => f.Key.ToString(), f => StepJson(f.Value)),
            ["fanoutNode"] = NodeCurves.Select(NodeFanoutReport.Json).ToList(),
            ["idle"] = Idle,
            ["idleBareHub"] = IdleBare,
            ["history"] = History.Select(h => new { h.Events, h.SeedSeconds, h.EventsMiB, h.MessagesMiB, append = h.Append.Summary(), newest = h.Newest.Summary(), middle = h.Middle.Summary() }).ToList(),
            ["backlog"] = Backlog is { } drained
                ? new { drained.Events, drained.DrainSeconds, drained.EventsPerSecond, notificationsCpuMsPerEvent = drained.CpuMsPerEvent("notifications"), postgresCpuMsPerEvent = drained.CpuMsPerEvent("postgres") }
                : null,
            ["search"] = Search is { } found
                ? new { found.Messages, found.Searchable, found.SeedSeconds, found.MessagesMiB, kinds = found.Kinds.Select(k => new { k.Kind, k.Query, k.Hits, latency = k.Latency.Summary() }).ToList() }
                : null,
            ["usage"] = Usage.ToDictionary(u => u.Key, u => u.Value.ToDictionary(v => v.Key, v => new { cpuSeconds = v.Value.CpuSeconds, peakRssMiB = v.Value.PeakRssMiB })),
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });

        private static object StepJson(Step s) => new
        {
            s.Label, s.OfferedRate, s.Messages, delivered = s.Delivered.Summary(), acknowledged = s.Acknowledged.Summary(), s.ExpectedDeliveries, s.Losses,
            s.FailedSends, s.Duplicates, s.OrderViolations, s.SendsPerSecond, s.DeliveriesPerSecond, s.Sustained,
        };
    }
}
