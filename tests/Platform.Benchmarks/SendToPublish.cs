using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// Open loop: sends are started on a fixed schedule, whether or not earlier ones finished, and each latency is
/// measured from its scheduled start (so a stall is not hidden by the sender slowing down).
/// </summary>
internal static class SendToPublish
{
    public static async Task<string> RunAsync(Arguments arguments)
    {
        var infrastructure = new PlatformInfrastructure();
        await infrastructure.InitializeAsync();
        await using var issuer = await TestTokenIssuer.StartAsync();
        await using var messaging = await ServiceProcess.StartAsync("Messaging", new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = issuer.Issuer,
            ["Auth:MetadataAddress"] = issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(infrastructure.VirtualHost.ConnectionString);

        var sender = Guid.CreateVersion7();
        using var http = new HttpClient { BaseAddress = messaging.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issuer.CreateToken(sender));
        var created = await http.PostAsJsonAsync("/api/v1/conversations", new { kind = "group", title = "bench", memberIds = new[] { Guid.CreateVersion7() } });
        var conversation = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        var total = arguments.Warmup + arguments.Messages;
        var started = new ConcurrentDictionary<string, long>();
        var acknowledged = new LongHistogram(TimeStamp.Seconds(60), 3);
        var published = new LongHistogram(TimeStamp.Seconds(60), 3);
        var failures = 0;
        var text = new string('x', 100);

        var consumer = Task.Run(async () =>
        {
            for (var received = 0; received < total;)
            {
                var message = await bus.NextAsync(TimeSpan.FromSeconds(60));
                if (message.ConversationId != conversation || message.Type != ConversationEventTypes.MessagePosted)
                    continue;
                var now = Stopwatch.GetTimestamp();
                var id = message.Data.GetProperty("clientMessageId").GetString()!;
                if (started.TryGetValue(id, out var start) && int.Parse(id) >= arguments.Warmup)
                    published.RecordValue(now - start);
                received++;
            }
        });

        var interval = Stopwatch.Frequency / (double)arguments.Rate;
        var origin = Stopwatch.GetTimestamp();
        var sends = new List<Task>(total);
        for (var i = 0; i < total; i++)
        {
            var scheduled = origin + (long)(i * interval);
            while (Stopwatch.GetTimestamp() < scheduled)
                await Task.Delay(TimeSpan.FromTicks(Math.Max(0, (scheduled - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
            var id = i.ToString();
            started[id] = scheduled;
            var measured = i >= arguments.Warmup;
            sends.Add(Task.Run(async () =>
            {
                using var content = new StringContent($$"""{"clientMessageId":"{{id}}","text":"{{text}}"}""", Encoding.UTF8, "application/json");
                var response = await http.PostAsync($"/api/v1/conversations/{conversation}/messages", content);
                if (!response.IsSuccessStatusCode)
                    Interlocked.Increment(ref failures);
                else if (measured)
                    lock (acknowledged)
                        acknowledged.RecordValue(Stopwatch.GetTimestamp() - scheduled);
            }));
        }
        await Task.WhenAll(sends);
        await consumer;

        await infrastructure.DisposeAsync();

        return Report(arguments, acknowledged, published, failures);
    }

    private static string Report(Arguments arguments, LongHistogram acknowledged, LongHistogram published, int failures)
    {
        static string Row(string name, LongHistogram h)
        {
            double Ms(double percentile) => h.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
            return $"| {name} | {Ms(50):0.00} | {Ms(90):0.00} | {Ms(99):0.00} | {Ms(99.9):0.00} | {h.GetMaxValue() * 1000.0 / Stopwatch.Frequency:0.00} | {h.TotalCount} |";
        }
        return $"""
            ## send-to-publish ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, PostgreSQL with fsync on)

            Open loop at {arguments.Rate} messages/s, {arguments.Messages} measured after {arguments.Warmup} warm-up, 100-character text,
            one conversation, one sender over HTTP/1.1 on loopback; Messaging as its own process (Release).

            | latency (ms) | p50 | p90 | p99 | p99.9 | max | count |
            |---|---|---|---|---|---|---|
            {Row("send → 201 at the sender", acknowledged)}
            {Row("send → consumed from RabbitMQ", published)}

            Failed sends: {failures}.
            """;
    }
}
