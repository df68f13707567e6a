using System.Diagnostics;
using Platform.Client;

namespace Platform.Benchmarks;

/// <summary>What the capacity and latency steps drive: users in rooms whose deliveries are timed (<see cref="Rooms"/> or <see cref="NodeRooms"/>).</summary>
internal interface IRoomLoad
{
    /// <summary>The sends of the last step that were traced (none when the receivers cannot tell when each arrived).</summary>
    IReadOnlyCollection<TracedSend> Traced { get; }

    Task<Step> SendAsync(double rate, int count, int warmup, int size, string label, int traceEvery = 0);
}

/// <summary>
/// <c>--receivers node</c>: the capacity and latency steps' users receive through one Node process with the official
/// JavaScript SignalR client (<c>tests/js-client/load-client.js</c>, one connection per user through the Gateway, JSON
/// protocol), the independent client issue 20 measures with; each user still sends with its own .NET SDK client (HTTP
/// only). The Node process times each delivery against the send's scheduled time carried in the text, counts per
/// connection what it received of the step, and checks each conversation's seqs.
/// </summary>
internal sealed class NodeRooms : IRoomLoad, IAsyncDisposable
{
    private readonly LoadClient _client;
    private readonly string _tokens;
    private int _steps;

    private NodeRooms(LoadClient client, string tokens, List<(Guid Id, PlatformClient Client)> users, List<(Guid Id, List<int> Members)> conversations)
    {
        _client = client;
        _tokens = tokens;
        Users = users;
        Conversations = conversations;
    }

    public List<(Guid Id, PlatformClient Client)> Users { get; }

    public List<(Guid Id, List<int> Members)> Conversations { get; }

    public int ProcessId => _client.ProcessId;

    public IReadOnlyCollection<TracedSend> Traced => [];

    public static async Task<NodeRooms> CreateAsync(PlatformUnderTest platform, int users, int conversations, int members)
    {
        var all = new List<(Guid Id, PlatformClient Client)>();
        for (var i = 0; i < users; i++)
        {
            var id = Guid.CreateVersion7();
            all.Add((id, platform.Client(id, messagePack: false)));
        }
        var rooms = new List<(Guid Id, List<int> Members)>();
        var next = 0;
        for (var c = 0; c < conversations; c++)
        {
            var memberIndexes = Enumerable.Range(0, Math.Min(members, users)).Select(_ => next++ % users).Distinct().ToList();
            var conversation = await all[memberIndexes[0]].Client.CreateConversationAsync("group", memberIndexes.Skip(1).Select(i => all[i].Id), $"room {c}");
            rooms.Add((conversation.Id, memberIndexes));
        }
        var tokens = Path.Combine(Path.GetTempPath(), $"bench-node-users-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(tokens, all.Select(user => $"{user.Id} {platform.Issuer.CreateToken(user.Id, "bench", lifetime: TimeSpan.FromHours(6))}"));
        var client = await LoadClient.StartAsync(new Dictionary<string, string>
        {
            ["MODE"] = "gateway", ["URL"] = new Uri(platform.Gateway.BaseAddress, "hubs/chat").ToString(), ["TOKENS_FILE"] = tokens,
        });
        var clock = await client.ClockOffsetAsync();
        Console.WriteLine($"bench: {client.Ready} Node connections open in {client.OpenSeconds:0.0} s; clock offset Node − harness {clock.OffsetMs:0.000} ms (taken off its latencies)");
        return new NodeRooms(client, tokens, all, rooms);
    }

    /// <summary>As <see cref="Rooms.SendAsync"/>: open loop, conversations in turn, a random member sends; every other member's Node connection times it.</summary>
    public async Task<Step> SendAsync(double rate, int count, int warmup, int size, string label, int traceEvery = 0)
    {
        var tag = $"s{++_steps}";
        await _client.CommandAsync(new { cmd = "begin", tag }, line => line.TryGetProperty("begun", out _));
        var padding = new string('x', Math.Max(0, size - 30));
        var acknowledged = new Latency();
        var random = new Random(42);
        var plan = Enumerable.Range(0, warmup + count).Select(i =>
        {
            var (conversation, members) = Conversations[i % Conversations.Count];
            return (conversation, members, sender: members[random.Next(members.Count)]);
        }).ToList();
        var expectedEach = new int[Users.Count];
        var failures = 0;
        var measuredStart = 0L;
        var started = Stopwatch.GetTimestamp();
        await OpenLoop.RunAsync(rate, plan.Count, async (i, scheduled) =>
        {
            var (conversation, members, sender) = plan[i];
            var measured = i >= warmup;
            if (i == warmup)
                Interlocked.Exchange(ref measuredStart, scheduled);
            var text = $"{(measured ? tag : "w" + tag)}|{UnixClock.Micros(scheduled)}|{padding}";
            try
            {
                await Users[sender].Client.SendMessageAsync(conversation, text, clientMessageId: $"{label}-{tag}-{i}");
                if (!measured)
                    return;
                acknowledged.Record(Stopwatch.GetTimestamp() - scheduled);
                foreach (var member in members)
                    if (member != sender)
                        Interlocked.Increment(ref expectedEach[member]);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failures);
            }
        });
        var sendSeconds = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
        var result = await _client.CommandAsync(new { cmd = "end", expectedEach, timeoutMs = 15_000 }, line => line.TryGetProperty("step", out _), TimeSpan.FromSeconds(60));
        var step = NodeStep.From(rate, count, count - failures, result, measuredStart, [], sendSeconds);
        return new Step(label, rate, count, acknowledged, step.Latency, expectedEach.Sum(), step.Missing, failures, step.Duplicates, step.Gaps,
            (warmup + count) / sendSeconds, step.DeliveriesPerSecond);
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        File.Delete(_tokens);
    }
}
