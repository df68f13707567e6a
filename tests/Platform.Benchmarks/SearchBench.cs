using System.Diagnostics;
using System.Net.Http.Headers;
using Platform.Messaging.Domain;

namespace Platform.Benchmarks;

/// <param name="Messages">Messages stored, in all conversations.</param>
/// <param name="Searchable">Of them, in the conversations the searcher is a member of.</param>
/// <param name="Kinds">Per query kind: the request latency through the Gateway and the hits of the first page.</param>
internal sealed record SearchRow(long Messages, long Searchable, double SeedSeconds, double MessagesMiB, IReadOnlyList<(string Kind, string Query, Latency Latency, int Hits)> Kinds);

/// <summary>
/// Message search latency (<c>GET /api/v1/search/messages</c> through the Gateway) at a given number of stored messages.
/// Texts are 8 to 20 words drawn from a Zipf-distributed synthetic vocabulary of 20,000 words plus English words in several
/// forms (for stemming), over <c>conversations</c> conversations of which the searcher is a member of half: the
/// permission filter has as much to exclude as to keep. Seeded with <see cref="HistorySeed"/> (Messaging's own rows),
/// then VACUUM (ANALYZE). Each query kind runs 100 times open loop at 20/s: a rare word, a mid-frequency word, a frequent
/// word, two words, a phrase, a stemmed English word, and a frequent word within one conversation.
/// </summary>
internal static class SearchBench
{
    private const int Vocabulary = 20_000;
    private static readonly string[] English = ["meeting", "meetings", "deploy", "deployed", "deploying", "review", "reviewed", "launch", "launches", "planning"];

    public static async Task<SearchRow> RunAsync(PlatformUnderTest platform, long messages, int conversations)
    {
        var searcher = Guid.CreateVersion7();
        var other = Guid.CreateVersion7();
        var mine = platform.Client(searcher, messagePack: false);
        var theirs = platform.Client(other, messagePack: false);
        var ids = new List<(Guid Id, Guid Sender, long FirstSeq, bool Member)>();
        for (var i = 0; i < conversations; i++)
        {
            // Half with the searcher; half among others only.
            var created = i % 2 == 0
                ? await mine.CreateConversationAsync("group", [other], $"search-{i}")
                : await theirs.CreateConversationAsync("group", [Guid.CreateVersion7()], $"search-{i}");
            ids.Add((created.Id, i % 2 == 0 ? searcher : other, created.LastSeq, i % 2 == 0));
        }
        var started = Stopwatch.GetTimestamp();
        await using var seed = HistorySeed.Open(platform.Infrastructure.Database.ConnectionString);
        var perConversation = messages / conversations;
        foreach (var (id, sender, firstSeq, _) in ids)
        {
            var random = new Random(id.GetHashCode());
            await seed.GrowAsync(id, sender, firstSeq + perConversation, _ => (Sentence(random), []));
        }
        await seed.AnalyzeAsync();
        var seedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var (_, messagesMiB) = await seed.SizesAsync();
        Console.WriteLine($"bench: search over {messages} messages (seeded in {seedSeconds:0.0} s)");

        using var http = new HttpClient { BaseAddress = platform.Gateway.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", platform.Issuer.CreateToken(searcher, lifetime: TimeSpan.FromHours(6)));
        var queries = new List<(string Kind, string Query)>
        {
            ("rare word", Word(15_000)),
            ("mid-frequency word", Word(500)),
            ("frequent word", Word(3)),
            ("two words", $"{Word(40)} {Word(200)}"),
            ("phrase", $"\"{Word(2)} {Word(3)}\""),
            ("stemmed English word", "deploy"),
            ("frequent word, one conversation", Word(3) + $"&conversationId={ids[0].Id}"),
        };
        var kinds = new List<(string, string, Latency, int)>();
        foreach (var (kind, query) in queries)
        {
            var (q, filter) = query.Split('&', 2) is [var words, var rest] ? (words, "&" + rest) : (query, "");
            var path = $"api/v1/search/messages?q={Uri.EscapeDataString(q)}{filter}";
            var hits = 0;
            using (var first = await http.GetAsync(path))
            {
                first.EnsureSuccessStatusCode();
                hits = System.Text.Json.JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("items").GetArrayLength();
            }
            var latency = new Latency();
            await OpenLoop.RunAsync(20, 100, async (_, scheduled) =>
            {
                using var response = await http.GetAsync(path);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                latency.Record(Stopwatch.GetTimestamp() - scheduled);
            });
            Console.WriteLine($"bench: search {kind}: p50 {latency.Ms(50):0.0} ms, p99 {latency.Ms(99):0.0} ms, {hits} hits on the first page");
            kinds.Add((kind, q, latency, hits));
        }
        return new SearchRow(perConversation * conversations, perConversation * ids.Count(c => c.Member), seedSeconds, messagesMiB, kinds);
    }

    // Word n of the vocabulary: a pronounceable token made from n's digits in base 20 syllables.
    private static string Word(int n)
    {
        string[] syllables = ["ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "ve", "zu", "ba", "de", "fi", "go", "hu", "ja", "ku", "le", "mo", "ni"];
        var word = "";
        var value = n + Vocabulary;
        while (value > 0)
        {
            word += syllables[value % 20];
            value /= 20;
        }
        return word;
    }

    // Zipf-like: the rank of the word is drawn with probability about 1/rank (inverse transform of a log-uniform draw).
    private static string Sentence(Random random)
    {
        var count = random.Next(8, 21);
        var words = new string[count];
        for (var i = 0; i < count; i++)
            words[i] = random.Next(10) == 0
                ? English[random.Next(English.Length)]
                : Word((int)Math.Min(Vocabulary - 1, Math.Exp(random.NextDouble() * Math.Log(Vocabulary)) - 1));
        return MessageText.Normalize(string.Join(' ', words));
    }
}
