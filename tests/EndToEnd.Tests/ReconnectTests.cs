using System.Text.RegularExpressions;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Many clients coming back at once after a Gateway restart: bounded work, no loop, nothing missed.</summary>
public sealed class ReconnectTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    [Fact]
    public Task AGatewayRestart_With500Connections_ResumesThemAllWithNews_OneJoinedReadAndOneLogReadPerConnection() =>
        Restart500ConnectionsAsync(platform, slowDown: null, resumeWithin: TimeSpan.FromSeconds(30), maxLogReadsPerConnection: 2);

    /// <summary>
    /// The restart, then every connection's reads of Messaging, while Messaging's database answers slowly: what made the
    /// fault campaign's first 5,000-connection restart loop (reads queued past the pool's timeout failed their connections,
    /// which reconnected and read again). The same count of reads must do, only later.
    /// </summary>
    internal static async Task Restart500ConnectionsAsync(RealtimePlatform platform, Action<bool>? slowDown, TimeSpan resumeWithin, double maxLogReadsPerConnection)
    {
        const int conversations = 50, membersEach = 10;
        var sender = platform.Client(platform.Gateway2.BaseAddress);
        var members = new List<(Guid Conversation, User User)>();
        foreach (var _ in Enumerable.Range(0, conversations))
        {
            var ids = Enumerable.Range(0, membersEach).Select(_ => Guid.CreateVersion7()).ToList();
            var conversation = (await sender.Sdk.CreateConversationAsync("group", ids, "reconnect")).Id;
            members.AddRange(ids.Select(id => (conversation, platform.Client(platform.Gateway1.BaseAddress, id))));
        }
        await Task.WhenAll(members.Select(m => m.User.Sdk.Realtime.StartAsync()));
        await Eventually.Returns(() => Task.FromResult(members.Count(m => m.User.Sdk.Realtime.Positions.GetValueOrDefault(m.Conversation) >= 1)),
            connected => connected == members.Count, TimeSpan.FromSeconds(60), "every client has its conversation's position");

        var joinedBefore = await MessagingRequests(platform, "/api/v1/conversations/joined");
        var logBefore = await MessagingRequests(platform, "/api/v1/conversations/{id:guid}/events");
        await platform.Gateway1.KillAsync();
        // News in every conversation while the clients' Gateway is down.
        var news = new Dictionary<Guid, long>();
        foreach (var conversation in members.Select(m => m.Conversation).Distinct())
            news[conversation] = (await sender.Sdk.SendMessageAsync(conversation, "while you were away")).Seq;
        slowDown?.Invoke(true);
        var restarted = DateTime.UtcNow;
        await platform.Gateway1.StartAsync();

        await Eventually.Returns(() => Task.FromResult(members.Count(m => m.User.Sdk.Realtime.Positions.GetValueOrDefault(m.Conversation) >= news[m.Conversation])),
            caughtUp => caughtUp == members.Count, resumeWithin, $"every client has the news within {resumeWithin.TotalSeconds} s of the restart");
        var resumedIn = DateTime.UtcNow - restarted;
        slowDown?.Invoke(false);
        // The metrics endpoint answers from a snapshot a moment old: read until the requests are all counted.
        var (joined, logReads) = await Eventually.Returns(
            async () => (await MessagingRequests(platform, "/api/v1/conversations/joined") - joinedBefore,
                await MessagingRequests(platform, "/api/v1/conversations/{id:guid}/events") - logBefore),
            counts => counts.Item1 >= members.Count && counts.Item2 >= conversations, TimeSpan.FromSeconds(15), "Messaging counted the reads");

        // One read of the positions per connection, so no client reconnected twice. At most one read of the log per
        // connection with news, and at most one more for a connection that came back before the restarted instance's
        // queue was bound (what was committed before then never reaches the instance, so such connections are filled
        // from the log once the queue is ready); fewer where connections replaying one conversation share a read.
        Assert.True(joined == members.Count, $"{joined} reads of the joined conversations for {members.Count} connections (resumed in {resumedIn.TotalSeconds:0.0} s)");
        Assert.True(logReads <= maxLogReadsPerConnection * members.Count,
            $"{logReads} log reads for {members.Count} connections with news, at most {maxLogReadsPerConnection} each expected (resumed in {resumedIn.TotalSeconds:0.0} s)");
        Assert.All(members, m => Assert.Equal(news[m.Conversation], m.User.Sdk.Realtime.Positions[m.Conversation]));
    }

    // Requests Messaging answered on a route, from its Prometheus metrics.
    private static async Task<long> MessagingRequests(RealtimePlatform platform, string route)
    {
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(platform.Messaging.BaseAddress, "/metrics"));
        return Regex.Matches(metrics, @"^http_server_request_duration_seconds_count\{(.*)\} (\d+)\s*$", RegexOptions.Multiline)
            .Where(m => m.Groups[1].Value.Contains($"http_route=\"{route}\"", StringComparison.Ordinal))
            .Sum(m => long.Parse(m.Groups[2].Value));
    }
}

/// <summary>The platform with Messaging's database behind a proxy that can slow it down.</summary>
public sealed class SlowDatabasePlatform : RealtimePlatform
{
    public TcpProxy Database { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        (Database, var postgres) = ProxyDatabase();
        await StartAsync(postgres, Infrastructure.VirtualHost.ConnectionString);
    }
}

public sealed class SlowDatabaseReconnectTests(SlowDatabasePlatform platform) : IClassFixture<SlowDatabasePlatform>
{
    [Fact]
    public Task AGatewayRestart_With500Connections_WhileMessagingsDatabaseIsSlow_SharesLogReads_ReadsPositionsOncePerConnection_AndNeverLoops() =>
        // 150 ms on every chunk each way: a query takes about 300 ms, a new pooled connection a second or more.
        // Reads queue for the Gateway's slots meanwhile, so the members of a conversation share one (10 per conversation).
        ReconnectTests.Restart500ConnectionsAsync(platform, slow => platform.Database.Latency = slow ? TimeSpan.FromMilliseconds(150) : TimeSpan.Zero,
            resumeWithin: TimeSpan.FromSeconds(120), maxLogReadsPerConnection: 0.5);
}
