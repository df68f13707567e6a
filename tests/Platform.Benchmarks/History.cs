using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Platform.Client;

namespace Platform.Benchmarks;

/// <param name="Events">The conversation's log length when the pages were read (the checkpoint and the 60 timed appends).</param>
/// <param name="SeedSeconds">Seconds spent growing the log to the checkpoint, statistics included.</param>
/// <param name="EventsMiB">On-disk size of <c>mt_events</c> (table, indexes and TOAST) at this size.</param>
/// <param name="MessagesMiB">Same for <c>mt_doc_message</c>, the messages' read model that pages are read from.</param>
internal sealed record HistoryRow(long Events, Latency Append, Latency Newest, Latency Middle, double SeedSeconds, double EventsMiB, double MessagesMiB);

/// <summary>
/// Append and history-page latency as one conversation grows: at each size (10, 100, ... events), timed appends
/// through the Gateway (open loop at 20/s) and timed reads of the newest page and of a page in the middle of the
/// history. The log is grown between sizes by <see cref="HistorySeed"/> (large transactions of Messaging's own rows),
/// not through the API, so a million events take minutes instead of hours; the pages are checked before and after the
/// timed appends, so a seeded log that the service reads or continues differently fails the run.
/// </summary>
internal static class History
{
    private const int Appends = 60;
    private const int PageSize = 50;

    public static async Task<List<HistoryRow>> RunAsync(PlatformUnderTest platform, long maxEvents, int size)
    {
        var user = Guid.CreateVersion7();
        var client = platform.Client(user, messagePack: false);
        var created = await client.CreateConversationAsync("group", [Guid.CreateVersion7()], "history");
        var conversation = created.Id;
        // Seqs up to here are the conversation's creation; every later one is a message.
        var firstMessage = created.LastSeq + 1;
        using var http = new HttpClient { BaseAddress = platform.Gateway.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", platform.Issuer.CreateToken(user, lifetime: TimeSpan.FromHours(6)));
        var text = new string('x', size);
        await using var seed = HistorySeed.Open(platform.Infrastructure.Database.ConnectionString);
        var results = new List<HistoryRow>();
        var events = created.LastSeq;
        var sent = 0L;
        foreach (var checkpoint in Checkpoints(maxEvents).Where(c => c > events))
        {
            var started = Stopwatch.GetTimestamp();
            await seed.GrowAsync(conversation, user, checkpoint, text);
            await seed.AnalyzeAsync();
            var seedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            events = checkpoint;
            Console.WriteLine($"bench: history at {events} events (seeded in {seedSeconds:0.0} s)");
            await CheckPageAsync(client, conversation, null, events, firstMessage, text);
            await CheckPageAsync(client, conversation, events / 2, events / 2 - 1, firstMessage, text);

            var append = new Latency();
            await OpenLoop.RunAsync(20, Appends, async (_, scheduled) =>
            {
                using var content = new StringContent($$"""{"clientMessageId":"a{{Interlocked.Increment(ref sent)}}","text":"{{text}}"}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync($"api/v1/conversations/{conversation}/messages", content);
                response.EnsureSuccessStatusCode();
                append.Record(Stopwatch.GetTimestamp() - scheduled);
            });
            // The API's sends continue the seeded log without a gap.
            await CheckPageAsync(client, conversation, events + PageSize / 2 + 1, events + PageSize / 2, firstMessage, text);
            events += Appends;
            await CheckPageAsync(client, conversation, null, events, firstMessage, text);

            var newest = await PagesAsync(http, $"api/v1/conversations/{conversation}/messages?limit={PageSize}");
            var middle = await PagesAsync(http, $"api/v1/conversations/{conversation}/messages?limit={PageSize}&before={Math.Max(2, events / 2)}");
            var (eventsMiB, messagesMiB) = await seed.SizesAsync();
            results.Add(new HistoryRow(events, append, newest, middle, seedSeconds, eventsMiB, messagesMiB));
        }
        return results;
    }

    /// <summary>
    /// The page before <paramref name="before"/> (the newest when null) holds consecutive seqs ending at
    /// <paramref name="last"/>, as many as the limit or the messages there are, each with <paramref name="text"/>.
    /// </summary>
    private static async Task CheckPageAsync(PlatformClient client, Guid conversation, long? before, long last, long firstMessage, string text)
    {
        var page = await client.GetMessagesAsync(conversation, before, limit: PageSize);
        var seqs = page.Items.Select(m => m.Seq).ToList();
        var expected = Enumerable.Range(0, (int)Math.Min(PageSize, Math.Max(0, last - firstMessage + 1)))
            .Select(i => last - i).Reverse().ToList();
        if (!seqs.SequenceEqual(expected) || page.Items.Any(m => m.Text != text))
            throw new InvalidOperationException(
                $"History check failed: the page before {before?.ToString() ?? "the end"} has seqs [{string.Join(",", seqs)}] " +
                $"(texts {string.Join(",", page.Items.Select(m => m.Text.Length).Distinct())} long), expected {expected.FirstOrDefault()}..{last} with {text.Length} characters.");
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
