using System.Diagnostics;
using System.Text;

namespace Platform.Benchmarks;

/// <summary>One hop of a send's way, its durations over the traced sends.</summary>
internal sealed record Hop(string Path, string Name, Latency Latency);

/// <summary>Per-hop durations of traced sends, from the spans the services exported and the harness's own timestamps.</summary>
internal sealed record HopTable(int Traced, int Complete, double DatabaseCommands, long Spans, int Traces, IReadOnlyList<Hop> Hops)
{
    public const string Both = "the send", ToRecipients = "to the recipients", ToSender = "to the sender", Beside = "beside the path";
}

internal static class WhereTheTimeGoes
{
    private static readonly long AnchorTicks = Stopwatch.GetTimestamp();
    private static readonly long AnchorUnixNanos = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    /// <summary>A Stopwatch timestamp of this process as Unix nanoseconds, the spans' time base.</summary>
    public static long UnixNanos(long ticks) => AnchorUnixNanos + (long)((ticks - AnchorTicks) * (1e9 / Stopwatch.Frequency));

    /// <summary>
    /// Cuts each traced send into consecutive hops, so that a send's hops add up to its latency: to the recipients
    /// (scheduled → Gateway request → Messaging request → its last database command → outbox publish → Gateway
    /// consume → push queued → each recipient's stream) and to the sender (… → its last database command →
    /// Messaging's response → the Gateway's → the 201 in the SDK). Sends whose trace lacks a span are left out.
    /// </summary>
    public static HopTable Analyze(TraceReceiver receiver, IReadOnlyCollection<TracedSend> sends)
    {
        var hops = new List<Hop>();
        Latency Hop(string path, string name)
        {
            var latency = new Latency();
            hops.Add(new Hop(path, name, latency));
            return latency;
        }
        var toGateway = Hop(HopTable.Both, "scheduled send → the Gateway receives it (harness, HTTP client, loopback)");
        var gatewayIn = Hop(HopTable.Both, "Gateway: authentication, routing, forward to Messaging");
        var database = Hop(HopTable.Both, "Messaging: the send's database commands (sum)");
        var messagingRest = Hop(HopTable.Both, "Messaging: the rest of the request until its last command (CPU, waiting for a core)");
        var handOff = Hop(HopTable.ToRecipients, "Messaging: COMMIT, then the outbox publish starts");
        var loopRead = Hop(HopTable.ToRecipients, "Messaging: the publish loop's lock and read of the outbox (0: published from memory)");
        var broker = Hop(HopTable.ToRecipients, "publish → the Gateway's consumer starts (RabbitMQ, MassTransit)");
        var push = Hop(HopTable.ToRecipients, "Gateway: consume → queued on each member's connection");
        var lastMile = Hop(HopTable.ToRecipients, "queued → the recipient's SDK stream hands it out (WebSocket)");
        var response = Hop(HopTable.ToSender, "Messaging: COMMIT and the response");
        var gatewayOut = Hop(HopTable.ToSender, "Gateway: the response back through the proxy");
        var toSender = Hop(HopTable.ToSender, "the Gateway's response → the 201 in the SDK");
        var publish = Hop(HopTable.Beside, "outbox publish until the broker confirms it");
        var commands = new List<int>();
        var complete = 0;
        foreach (var send in sends)
        {
            var trace = receiver.Trace(send.TraceId);
            var gateway = trace.FirstOrDefault(s => s is { Service: "Gateway", Kind: TraceSpan.Server, Scope: "Microsoft.AspNetCore" });
            var messaging = trace.FirstOrDefault(s => s is { Service: "Messaging", Kind: TraceSpan.Server });
            var outbox = trace.FirstOrDefault(s => s is { Service: "Messaging", Scope: "Platform.Outbox" or "Platform.Messaging", Name: "outbox publish" });
            var consume = trace.Where(s => s is { Service: "Gateway", Scope: "MassTransit", Kind: TraceSpan.Consumer }).MinBy(s => s.Start);
            var pushed = trace.FirstOrDefault(s => s is { Service: "Gateway", Scope: "Platform.Gateway", Name: "realtime push" });
            if (gateway is null || messaging is null || outbox is null || consume is null || pushed is null || send.Acknowledged == 0 || send.Delivered.IsEmpty)
                continue;
            // Messaging's commands in this trace: the send's own, then (from a Task.Run in the request) the publish
            // loop's, which begin with its advisory lock. A loop started by an earlier send may publish this one:
            // then its lock and read are in that send's trace.
            var ownAndLoop = trace.Where(s => s.Service == "Messaging" && IsDatabase(s) && s.Start >= messaging.Start).OrderBy(s => s.Start).ToList();
            var lockIndex = ownAndLoop.FindIndex(s => Text(s).Contains("pg_advisory_xact_lock", StringComparison.Ordinal));
            var own = (lockIndex < 0 ? ownAndLoop : ownAndLoop[..lockIndex]).Where(s => s.End <= messaging.End).ToList();
            if (own.Count == 0)
                continue;
            complete++;
            commands.Add(own.Count);
            var lastCommand = own.Max(s => s.End);
            var loopStart = lockIndex < 0 || ownAndLoop[lockIndex].Start > outbox.Start ? outbox.Start : ownAndLoop[lockIndex].Start;
            var scheduled = UnixNanos(send.Scheduled);
            var ownTime = own.Sum(s => s.End - s.Start);
            toGateway.RecordNanoseconds(gateway.Start - scheduled);
            gatewayIn.RecordNanoseconds(messaging.Start - gateway.Start);
            database.RecordNanoseconds(ownTime);
            messagingRest.RecordNanoseconds(lastCommand - messaging.Start - ownTime);
            handOff.RecordNanoseconds(loopStart - lastCommand);
            loopRead.RecordNanoseconds(outbox.Start - loopStart);
            broker.RecordNanoseconds(consume.Start - outbox.Start);
            push.RecordNanoseconds(pushed.End - consume.Start);
            foreach (var delivered in send.Delivered)
                lastMile.RecordNanoseconds(UnixNanos(delivered) - pushed.End);
            response.RecordNanoseconds(messaging.End - lastCommand);
            gatewayOut.RecordNanoseconds(gateway.End - messaging.End);
            toSender.RecordNanoseconds(UnixNanos(send.Acknowledged) - gateway.End);
            publish.RecordNanoseconds(outbox.End - outbox.Start);
        }
        commands.Sort();
        return new HopTable(sends.Count, complete, commands.Count == 0 ? 0 : commands[commands.Count / 2], receiver.SpansReceived, receiver.TraceCount, hops);
    }

    private static bool IsDatabase(TraceSpan span) => span.Scope.StartsWith("Npgsql", StringComparison.Ordinal) && span.Kind == TraceSpan.Client;

    private static string Text(TraceSpan span) => span.Attribute("db.query.text") ?? span.Attribute("db.statement") ?? "";

    /// <summary>The trace as an indented tree, offsets in ms from the send's scheduled start.</summary>
    public static string Describe(IReadOnlyList<TraceSpan> trace, TracedSend send)
    {
        var origin = UnixNanos(send.Scheduled);
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        var children = trace.ToLookup(s => ids.Contains(s.ParentSpanId) ? s.ParentSpanId : "");
        var text = new StringBuilder();
        text.AppendLine($"trace {send.TraceId}: 201 at {(UnixNanos(send.Acknowledged) - origin) / 1e6:0.00} ms, delivered at " +
                        string.Join(", ", send.Delivered.Select(d => $"{(UnixNanos(d) - origin) / 1e6:0.00}")) + " ms");
        void Add(TraceSpan span, int depth)
        {
            var detail = string.Join(' ', (span.Attribute("db.query.text") ?? span.Attribute("db.statement") ?? span.Attribute("url.path") ?? "")
                .Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
            if (detail.Length > 90)
                detail = detail[..90] + "…";
            text.AppendLine($"{new string(' ', depth * 2)}{(span.Start - origin) / 1e6,8:0.00} +{(span.End - span.Start) / 1e6,6:0.00}  {span.Service} [{span.Scope}] {KindName(span.Kind)} {span.Name}  {detail}");
            foreach (var child in children[span.SpanId].OrderBy(c => c.Start))
                Add(child, depth + 1);
        }
        foreach (var root in children[""].OrderBy(c => c.Start))
            Add(root, 0);
        return text.ToString();
    }

    private static string KindName(int kind) => kind switch
    {
        TraceSpan.Server => "server",
        TraceSpan.Client => "client",
        TraceSpan.Producer => "producer",
        TraceSpan.Consumer => "consumer",
        _ => "internal",
    };
}
