using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace Platform.Benchmarks;

/// <summary>
/// Append and history-page latency as one conversation grows: at each size, timed appends (open loop at a low rate)
/// and timed reads of the newest page and of a page in the middle of the history.
/// </summary>
internal static class History
{
    public static async Task<List<(long Events, Latency Append, Latency Newest, Latency Middle)>> RunAsync(PlatformUnderTest platform, long maxEvents, int size)
    {
        var user = Guid.CreateVersion7();
        var client = platform.Client(user, messagePack: false);
        var conversation = (await client.CreateConversationAsync("group", [Guid.CreateVersion7()], "history")).Id;
        using var http = new HttpClient { BaseAddress = platform.Gateway.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", platform.Issuer.CreateToken(user, lifetime: TimeSpan.FromHours(6)));
        var text = new string('x', size);
        var results = new List<(long, Latency, Latency, Latency)>();
        long events = 1;
        var sent = 0L;
        foreach (var checkpoint in Checkpoints(maxEvents))
        {
            // Grow to the checkpoint as fast as sends go (eight in flight; the conversation's lock orders them).
            var missing = checkpoint - events;
            await Parallel.ForEachAsync(Enumerable.Range(0, (int)Math.Max(0, missing)), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, cancellationToken) =>
            {
                using var content = new StringContent($$"""{"clientMessageId":"g{{Interlocked.Increment(ref sent)}}","text":"{{text}}"}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync($"api/v1/conversations/{conversation}/messages", content, cancellationToken);
                response.EnsureSuccessStatusCode();
            });
            events = checkpoint;

            var append = new Latency();
            await OpenLoop.RunAsync(20, 60, async (_, scheduled) =>
            {
                using var content = new StringContent($$"""{"clientMessageId":"a{{Interlocked.Increment(ref sent)}}","text":"{{text}}"}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync($"api/v1/conversations/{conversation}/messages", content);
                response.EnsureSuccessStatusCode();
                append.Record(Stopwatch.GetTimestamp() - scheduled);
            });
            events += 60;
            var newest = await PagesAsync(http, $"api/v1/conversations/{conversation}/messages?limit=50");
            var middle = await PagesAsync(http, $"api/v1/conversations/{conversation}/messages?limit=50&before={Math.Max(2, events / 2)}");
            results.Add((events, append, newest, middle));
        }
        return results;
    }

    private static async Task<Latency> PagesAsync(HttpClient http, string path)
    {
        var latency = new Latency();
        await OpenLoop.RunAsync(20, 60, async (_, scheduled) =>
        {
            using var response = await http.GetAsync(path);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            latency.Record(Stopwatch.GetTimestamp() - scheduled);
        });
        return latency;
    }

    private static IEnumerable<long> Checkpoints(long max)
    {
        for (long size = 10; size <= max; size *= 10)
            yield return size;
    }
}
