using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;

namespace Platform.Benchmarks;

/// <summary>
/// The fanout-node scenario: one room whose receivers are all held by one independent Node process with the official
/// JavaScript SignalR client (<c>tests/js-client/load-client.js</c>, JSON protocol, WebSockets), against a bare
/// ASP.NET Core SignalR hub in a process of its own and against the Gateway, in the same run. For each, the message
/// rate into the room is ramped in steps until p99 exceeds 100 ms or a delivery is lost; the highest delivery rate
/// below that is the figure compared.
/// </summary>
internal static class NodeFanout
{
    /// <summary>The steps, or BENCH_FANOUT_RATES (comma-separated messages/s: e.g. one rate held for profiling).</summary>
    public static readonly double[] Rates = Environment.GetEnvironmentVariable("BENCH_FANOUT_RATES") is { Length: > 0 } rates
        ? [.. rates.Split(',').Select(rate => double.Parse(rate, System.Globalization.CultureInfo.InvariantCulture))]
        : [5, 10, 20, 30, 40, 50, 60, 70, 80, 100, 120, 160, 200, 250, 300];

    /// <summary>The bare hub's curve: <paramref name="receivers"/> Node connections in one group, a harness connection invoking <c>Broadcast</c>.</summary>
    public static async Task<NodeCurve> BareAsync(ProcessUsage usage, int receivers, BenchOptions options)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        start.ArgumentList.Add(IdleConnections.BareHubServer);
        // The Gateway's GC (workstation, Gateway.csproj) unless BENCH_GATEWAY_GC_SERVER says otherwise for both.
        start.Environment["DOTNET_gcServer"] = Environment.GetEnvironmentVariable("BENCH_GATEWAY_GC_SERVER") ?? "0";
        using var server = Process.Start(start)!;
        try
        {
            var address = new Uri(await server.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("The bare hub did not start."));
            usage.Track("bare hub", () => [server.Id]);
            var group = "node-room";
            await using var client = await LoadClient.StartAsync(new Dictionary<string, string>
            {
                ["MODE"] = "bare", ["URL"] = new Uri(address, "bare").ToString(), ["CONNECTIONS"] = receivers.ToString(), ["GROUP"] = group,
            });
            usage.Track("node client", () => [client.ProcessId]);
            var sender = new HubConnectionBuilder().WithUrl(new Uri(address, "bare"), o =>
            {
                o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
            }).Build();
            await using (sender)
            {
                await sender.StartAsync();
                return await RampAsync("bare hub", client, usage, receivers, options,
                    async (_, text) =>
                    {
                        await sender.InvokeAsync("Broadcast", group, 0L, text);
                        return true;
                    });
            }
        }
        finally
        {
            usage.Untrack("bare hub");
            usage.Untrack("node client");
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    /// <summary>The platform's curve: a conversation of the sender and <paramref name="receivers"/> users, each receiver a Node connection through the Gateway; the sender posts with the .NET SDK.</summary>
    public static async Task<NodeCurve> PlatformAsync(PlatformUnderTest platform, ProcessUsage usage, int receivers, BenchOptions options)
    {
        var senderId = Guid.CreateVersion7();
        var sender = platform.Client(senderId, messagePack: false);
        var receiverIds = Enumerable.Range(0, receivers).Select(_ => Guid.CreateVersion7()).ToList();
        var conversation = await sender.CreateConversationAsync("group", receiverIds, "node room");
        var tokens = Path.Combine(Path.GetTempPath(), $"bench-node-tokens-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(tokens, receiverIds.Select(id => platform.Issuer.CreateToken(id, "bench", lifetime: TimeSpan.FromHours(6))));
        try
        {
            await using var client = await LoadClient.StartAsync(new Dictionary<string, string>
            {
                ["MODE"] = "gateway", ["URL"] = new Uri(platform.Gateway.BaseAddress, "hubs/chat").ToString(), ["TOKENS_FILE"] = tokens,
            });
            usage.Track("node client", () => [client.ProcessId]);
            var failures = 0;
            return await RampAsync("platform", client, usage, receivers, options, async (index, text) =>
            {
                try
                {
                    await sender.SendMessageAsync(conversation.Id, text, clientMessageId: $"node-{index}-{Guid.NewGuid():N}");
                    return true;
                }
                catch (Exception exception)
                {
                    if (Interlocked.Increment(ref failures) <= 3)
                        Console.WriteLine($"bench: send failed: {DeliveryTally.Describe(exception)}");
                    return false;
                }
            });
        }
        finally
        {
            usage.Untrack("node client");
            File.Delete(tokens);
        }
    }

    public const double WarmupRate = 20;
    public static readonly TimeSpan WarmupSlice = TimeSpan.FromSeconds(5);
    private const int MinWarmupSlices = 3, MaxWarmupSlices = 12;

    /// <summary>
    /// Unmeasured load until every process on the path has settled: the JIT's tiering above all (the services compile
    /// and recompile their hot methods for tens of seconds after they start; a profile of a platform step after the
    /// earlier fixed 8 s warm-up found 20-40% of the Gateway's, Messaging's and Notifications' CPU in the JIT), and
    /// connection pools and caches. After 4 s at 5 messages/s, slices of <see cref="WarmupSlice"/> at
    /// <see cref="WarmupRate"/> messages/s (below what either side sustains in a room of 1,000) until the CPU of every
    /// tracked process together stops falling: two slices in a row within 5% of the one before, on a machine not
    /// busier than 90% (at least <see cref="MinWarmupSlices"/>, at most <see cref="MaxWarmupSlices"/>). Returns each
    /// slice's CPU, % of one core.
    /// </summary>
    private static async Task<List<double>> WarmUpAsync(ProcessUsage usage, Func<int, long, Task> send)
    {
        await OpenLoop.RunAsync(5, 20, send);
        var slices = new List<double>();
        var settled = 0;
        while (slices.Count < MaxWarmupSlices && (slices.Count < MinWarmupSlices || settled < 2))
        {
            usage.Begin();
            var started = Stopwatch.GetTimestamp();
            await OpenLoop.RunAsync(WarmupRate, (int)(WarmupRate * WarmupSlice.TotalSeconds), send);
            var cpu = 100 * usage.End().Values.Sum(process => process.CpuSeconds) / Stopwatch.GetElapsedTime(started).TotalSeconds;
            // A full machine shows no fall while the JIT's backlog is still being worked off: never settled.
            settled = slices.Count > 0 && cpu >= 0.95 * slices[^1] && cpu < 90 * Environment.ProcessorCount ? settled + 1 : 0;
            slices.Add(cpu);
        }
        return slices;
    }

    /// <summary>Steps of <see cref="Rates"/> messages/s, each <c>--warmup</c> s unmeasured then <c>--duration</c> s measured, until one is not sustained.</summary>
    private static async Task<NodeCurve> RampAsync(string name, LoadClient client, ProcessUsage usage, int receivers, BenchOptions options, Func<int, string, Task<bool>> send)
    {
        var curve = new NodeCurve(name, receivers, client.Ready, client.OpenSeconds, await client.ClockOffsetAsync());
        Console.WriteLine($"bench: {name}: {client.Ready} Node connections open in {client.OpenSeconds:0.0} s; clock offset Node − harness {curve.Clock.OffsetMs:0.000} ms (round trip {curve.Clock.RoundTripMs:0.000} ms)");
        var padding = new string('x', Math.Max(0, options.Size - 30));
        Console.WriteLine($"bench: {name}: warming up");
        curve.WarmupCpu.AddRange(await WarmUpAsync(usage, (i, scheduled) => send(i, $"warm|{UnixClock.Micros(scheduled)}|{padding}")));
        Console.WriteLine($"bench: {name}: warm after {curve.WarmupCpu.Count} slices of {WarmupSlice.TotalSeconds:0} s at {WarmupRate} messages/s; " +
                          $"all processes {string.Join(", ", curve.WarmupCpu.Select(cpu => $"{cpu:0}%"))} of a core");
        await Task.Delay(TimeSpan.FromSeconds(3));
        var number = 0;
        foreach (var rate in Rates)
        {
            number++;
            var warmup = (int)(rate * options.Warmup);
            var count = (int)(rate * options.Duration);
            var tag = $"m{number}";
            await client.CommandAsync(new { cmd = "begin", tag }, line => line.TryGetProperty("begun", out _));
            var sent = 0;
            var measuredStart = 0L;
            var started = Stopwatch.GetTimestamp();
            usage.Begin();
            await OpenLoop.RunAsync(rate, warmup + count, async (i, scheduled) =>
            {
                var measured = i >= warmup;
                if (i == warmup)
                    Interlocked.Exchange(ref measuredStart, scheduled);
                var text = $"{(measured ? tag : "w" + number)}|{UnixClock.Micros(scheduled)}|{padding}";
                if (await send(i, text) && measured)
                    Interlocked.Increment(ref sent);
            });
            var result = await client.CommandAsync(new { cmd = "end", expected = sent, timeoutMs = 15_000 }, line => line.TryGetProperty("step", out _), TimeSpan.FromSeconds(60));
            var cpu = usage.End();
            var seconds = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
            var step = NodeStep.From(rate, count, sent, result, measuredStart, cpu, seconds);
            curve.Steps.Add(step);
            Console.WriteLine($"bench: {name} at {rate} messages/s: {step.DeliveriesPerSecond:0} deliveries/s, p50 {step.Latency.Ms(50):0.0}, p99 {step.Latency.Ms(99):0.0} ms, " +
                              $"missing {step.Missing}, duplicates {step.Duplicates}, gaps {step.Gaps}; CPU {string.Join(", ", cpu.Where(c => c.Value.CpuSeconds > 0.05).OrderByDescending(c => c.Value.CpuSeconds).Select(c => $"{c.Key} {100 * c.Value.CpuSeconds / seconds:0}%"))}");
            if (!step.Sustained)
                break;
        }
        return curve;
    }
}

/// <summary>Unix time in microseconds for a Stopwatch timestamp, from one reading of <see cref="DateTime.UtcNow"/> beside the Stopwatch.</summary>
internal static class UnixClock
{
    private static readonly (long Ticks, long Micros) Origin = Read();

    public static long Micros(long timestamp) => Origin.Micros + (long)((timestamp - Origin.Ticks) * 1e6 / Stopwatch.Frequency);

    public static long Now() => Micros(Stopwatch.GetTimestamp());

    private static (long, long) Read()
    {
        // The pair read closest together of a few.
        var best = (Ticks: 0L, Micros: 0L, Gap: long.MaxValue);
        for (var i = 0; i < 20; i++)
        {
            var before = Stopwatch.GetTimestamp();
            var micros = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
            var after = Stopwatch.GetTimestamp();
            if (after - before < best.Gap)
                best = ((before + after) / 2, micros, after - before);
        }
        return (best.Ticks, best.Micros);
    }
}

/// <summary>The Node process of <c>tests/js-client/load-client.js</c>, driven over its standard input and output.</summary>
internal sealed class LoadClient : IAsyncDisposable
{
    private readonly Process _node;
    private readonly Channel<JsonElement> _lines = Channel.CreateUnbounded<JsonElement>();
    private readonly StringBuilder _errors = new();

    private LoadClient(Process node)
    {
        _node = node;
        _node.OutputDataReceived += (_, line) =>
        {
            if (line.Data is { Length: > 0 } data)
                _lines.Writer.TryWrite(JsonDocument.Parse(data).RootElement.Clone());
        };
        _node.ErrorDataReceived += (_, line) => { lock (_errors) _errors.AppendLine(line.Data); };
        _node.BeginOutputReadLine();
        _node.BeginErrorReadLine();
    }

    public int ProcessId => _node.Id;

    public int Ready { get; private set; }

    public double OpenSeconds { get; private set; }

    public static async Task<LoadClient> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var folder = Path.Combine(LocalInfrastructure.RepositoryRoot, "tests", "js-client");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@microsoft", "signalr")))
            throw new InvalidOperationException($"The official SignalR client is not installed: run `npm ci` in {folder}.");
        var info = new ProcessStartInfo("node", [Path.Combine(folder, "load-client.js")])
        {
            WorkingDirectory = folder, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var client = new LoadClient(Process.Start(info) ?? throw new InvalidOperationException("Could not start node."));
        var ready = await client.NextAsync(line => line.TryGetProperty("ready", out _), TimeSpan.FromMinutes(3));
        client.Ready = ready.GetProperty("ready").GetInt32();
        client.OpenSeconds = ready.GetProperty("seconds").GetDouble();
        if (ready.GetProperty("failed").GetInt32() > 0)
            Console.WriteLine($"bench: {ready.GetProperty("failed")} Node connections failed to open: {ready.GetProperty("errors")}");
        return client;
    }

    public async Task<JsonElement> CommandAsync(object command, Func<JsonElement, bool> answer, TimeSpan? timeout = null)
    {
        await _node.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _node.StandardInput.FlushAsync();
        return await NextAsync(answer, timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// How far the Node process's clock (<c>performance.timeOrigin + performance.now()</c>) is from the harness's
    /// (<see cref="UnixClock"/>): of 50 pings, the one with the shortest round trip, Node's reading against the midpoint.
    /// Node takes it off the latencies it measures from then on.
    /// </summary>
    public async Task<ClockCheck> ClockOffsetAsync()
    {
        var best = new ClockCheck(double.NaN, double.MaxValue);
        for (var i = 0; i < 50; i++)
        {
            var sent = UnixClock.Now();
            var reply = await CommandAsync(new { cmd = "clock", t = sent }, line => line.TryGetProperty("clock", out _));
            var back = UnixClock.Now();
            var roundTrip = (back - sent) / 1000.0;
            if (roundTrip < best.RoundTripMs)
                best = new ClockCheck((reply.GetProperty("clock").GetDouble() - (sent + back) / 2.0) / 1000.0, roundTrip);
        }
        // Taken off Node's latencies: the two clocks can differ by a wall clock step between the processes' starts
        // (22 ms once on this VM, which the latencies then carried).
        await CommandAsync(new { cmd = "offset", micros = best.OffsetMs * 1000 }, line => line.TryGetProperty("offset", out _));
        return best;
    }

    private async Task<JsonElement> NextAsync(Func<JsonElement, bool> match, TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cancellation.Token);
                if (match(line))
                    return line;
            }
        }
        catch (OperationCanceledException)
        {
            string errors;
            lock (_errors)
                errors = _errors.ToString();
            throw new TimeoutException($"The Node load client did not answer within {timeout.TotalSeconds:0} s (exited: {_node.HasExited}): {errors}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _node.StandardInput.Close();
            await _node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            _node.Kill(entireProcessTree: true);
        }
        _node.Dispose();
    }
}

/// <param name="OffsetMs">Node's clock minus the harness's, at the ping with the shortest round trip.</param>
internal sealed record ClockCheck(double OffsetMs, double RoundTripMs);

internal sealed class NodeCurve(string name, int receivers, int connected, double openSeconds, ClockCheck clock)
{
    public string Name { get; } = name;

    public int Receivers { get; } = receivers;

    public int Connected { get; } = connected;

    public double OpenSeconds { get; } = openSeconds;

    public ClockCheck Clock { get; } = clock;

    public List<NodeStep> Steps { get; } = [];

    /// <summary>The warm-up's slices: the CPU of every tracked process together, % of one core, until it settled.</summary>
    public List<double> WarmupCpu { get; } = [];

    /// <summary>The last sustained step (the steps stop at the first one that is not).</summary>
    public NodeStep? Best => Steps.LastOrDefault(step => step.Sustained);
}

/// <param name="Missing">Deliveries of acknowledged sends some connection did not get within 15 s of the last send.</param>
/// <param name="Gaps">Gateway only: events whose seq was not the next of their conversation at that connection.</param>
/// <param name="Other">Gateway only: other hub calls the connections received (receipt, presence, notification, ...).</param>
internal sealed record NodeStep(
    double Rate, int Messages, int Sent, Latency Latency, long Received, long Missing, long Duplicates, long Gaps, long Closed, long Negative,
    double DeliveriesPerSecond, Dictionary<string, long> Other, Dictionary<string, (double CpuSeconds, double PeakRssMiB)> Cpu, double Seconds)
{
    public bool Sustained => Missing == 0 && Sent == Messages && Duplicates == 0 && Gaps == 0 && Latency.Ms(99) < 100;

    public static NodeStep From(double rate, int messages, int sent, JsonElement result, long measuredStart, Dictionary<string, (double, double)> cpu, double seconds)
    {
        var latency = new Latency();
        var bucketMicros = result.GetProperty("bucketUs").GetDouble();
        foreach (var bucket in result.GetProperty("hist").EnumerateArray())
        {
            // The middle of the bucket.
            var micros = (bucket[0].GetInt64() + 0.5) * bucketMicros;
            latency.Record((long)(micros * Stopwatch.Frequency / 1e6), bucket[1].GetInt64());
        }
        var received = result.GetProperty("received").GetInt64();
        var lastAt = result.GetProperty("lastAt").GetDouble();
        var span = (lastAt - UnixClock.Micros(measuredStart)) / 1e6;
        return new NodeStep(rate, messages, sent, latency, received, result.GetProperty("missing").GetInt64(), result.GetProperty("duplicates").GetInt64(),
            result.GetProperty("gaps").GetInt64(), result.GetProperty("closed").GetInt64(), result.GetProperty("negative").GetInt64(),
            span > 0 ? received / span : 0,
            result.GetProperty("other").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()), cpu, seconds);
    }
}

/// <summary>The fanout-node scenario's part of the report.</summary>
internal static class NodeFanoutReport
{
    public static string Markdown(IReadOnlyList<NodeCurve> curves, BenchOptions options)
    {
        var md = new StringBuilder();
        var receivers = curves[0].Receivers;
        md.AppendLine();
        md.AppendLine($"## (g) One room of {receivers + 1} with the official JS client in a Node process: bare hub and platform");
        md.AppendLine($"{receivers} receiving connections held by one Node process (`tests/js-client/load-client.js`, `@microsoft/signalr`, JSON protocol, WebSockets); " +
                      $"steps of {string.Join(", ", NodeFanout.Rates)} messages/s into the room, each {options.Warmup} s unmeasured then {options.Duration} s measured, until p99 ≥ 100 ms or a delivery is missing. " +
                      "Latency: the Node process's clock at receipt minus the send's scheduled time carried in the message (Unix µs). " +
                      "Bare hub: a harness connection invokes `Broadcast` on a bare hub in its own process. Platform: one .NET SDK client posts to the conversation through the Gateway.");
        foreach (var curve in curves)
            md.AppendLine($"- {curve.Name}: {curve.Connected} of {curve.Receivers} connections open in {curve.OpenSeconds:0.0} s; Node clock − harness clock {curve.Clock.OffsetMs:0.000} ms (ping round trip {curve.Clock.RoundTripMs:0.000} ms), taken off its latencies; " +
                          $"warmed up at {NodeFanout.WarmupRate} messages/s until the CPU settled, {curve.WarmupCpu.Count} slices of {NodeFanout.WarmupSlice.TotalSeconds:0} s: {string.Join(" → ", curve.WarmupCpu.Select(cpu => $"{cpu:0}%"))} of a core (every tracked process).");
        md.AppendLine();
        md.AppendLine("CPU: % of one core over the step (warm-up included), from /proc; \"server\" is the bare hub's process or the Gateway; \"all\" every tracked process.");
        md.AppendLine();
        md.AppendLine("| | messages/s | deliveries/s | p50 | p90 | p99 | p99.9 | max | missing | dup | gaps | server CPU | Node CPU | harness CPU | all CPU |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var curve in curves)
            foreach (var s in curve.Steps)
            {
                var server = curve.Name == "platform" ? "gateway" : "bare hub";
                md.AppendLine($"| {curve.Name} | {s.Rate:0} | {s.DeliveriesPerSecond:0} | {s.Latency.Ms(50):0.0} | {s.Latency.Ms(90):0.0} | {s.Latency.Ms(99):0.0} | {s.Latency.Ms(99.9):0.0} | {s.Latency.MaxMs:0.0} | " +
                              $"{s.Missing} | {s.Duplicates} | {s.Gaps} | {Percent(s, server)} | {Percent(s, "node client")} | {Percent(s, "harness")} | {100 * s.Cpu.Values.Sum(v => v.CpuSeconds) / s.Seconds:0}% |");
            }
        md.AppendLine();
        var bare = curves.FirstOrDefault(c => c.Name == "bare hub")?.Best;
        var ours = curves.FirstOrDefault(c => c.Name == "platform")?.Best;
        md.AppendLine($"Highest delivery rate with p99 < 100 ms and nothing missing: bare hub {Describe(bare)}, platform {Describe(ours)}; " +
                      $"ratio platform / bare **{(bare is not null && ours is not null ? $"{ours.DeliveriesPerSecond / bare.DeliveriesPerSecond:0.00}×" : "-")}** (target ≥ 0.8×, and ≥ 40,000 deliveries/s).");
        if (curves.FirstOrDefault(c => c.Name == "platform") is { Steps.Count: > 0 } platform)
        {
            var other = platform.Steps.SelectMany(s => s.Other).GroupBy(p => p.Key).Select(g => $"{g.Key} {g.Sum(p => p.Value)}").ToList();
            md.AppendLine($"Other hub calls the platform's connections received during the steps: {(other.Count > 0 ? string.Join(", ", other) : "none")}.");
        }
        var processes = curves.SelectMany(c => c.Steps).SelectMany(s => s.Cpu.Keys).Distinct().ToList();
        md.AppendLine();
        md.AppendLine("CPU per process at each step (% of one core):");
        md.AppendLine();
        md.AppendLine("| | messages/s | " + string.Join(" | ", processes) + " |");
        md.AppendLine("|---|---|" + string.Concat(processes.Select(_ => "---|")));
        foreach (var curve in curves)
            foreach (var s in curve.Steps)
                md.AppendLine($"| {curve.Name} | {s.Rate:0} | " + string.Join(" | ", processes.Select(p => Percent(s, p))) + " |");
        return md.ToString();
    }

    private static string Describe(NodeStep? step) => step is null ? "none (the first step failed)" : $"**{step.DeliveriesPerSecond:N0}/s** ({step.Rate:0} messages/s, p99 {step.Latency.Ms(99):0.0} ms)";

    private static string Percent(NodeStep step, string process) =>
        step.Cpu.TryGetValue(process, out var value) ? $"{100 * value.CpuSeconds / step.Seconds:0}%" : "-";

    public static object Json(NodeCurve curve) => new
    {
        curve.Name, curve.Receivers, curve.Connected, curve.OpenSeconds, clockOffsetMs = curve.Clock.OffsetMs, clockRoundTripMs = curve.Clock.RoundTripMs,
        best = curve.Best?.DeliveriesPerSecond,
        steps = curve.Steps.Select(s => new
        {
            s.Rate, s.Messages, s.Sent, latency = s.Latency.Summary(), s.Received, s.Missing, s.Duplicates, s.Gaps, s.Closed, s.Negative, s.DeliveriesPerSecond,
            s.Sustained, s.Other, s.Seconds, cpuPercent = s.Cpu.ToDictionary(c => c.Key, c => Math.Round(100 * c.Value.CpuSeconds / s.Seconds, 1)),
        }).ToList(),
    };
}
