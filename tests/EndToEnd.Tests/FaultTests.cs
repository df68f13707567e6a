using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Npgsql;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>Messaging reaches PostgreSQL through a TCP proxy, so the database can be cut off or partitioned for Messaging alone.</summary>
public sealed class ProxiedDatabasePlatform : RealtimePlatform
{
    public TcpProxy Database { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        (Database, var postgres) = ProxyDatabase();
        await StartAsync(postgres, Infrastructure.VirtualHost.ConnectionString);
    }
}

/// <summary>
/// The CI-sized subset of the fault campaign (<c>faults</c> in tests/Platform.Benchmarks, RELIABILITY.md): what was
/// acknowledged reaches the other member once and in order across a Messaging crash and a database partition, and a
/// database outage answers 503 with Retry-After, never 500.
/// </summary>
public sealed class FaultTests(ProxiedDatabasePlatform platform) : IClassFixture<ProxiedDatabasePlatform>
{
    [Fact]
    public async Task MessagingKilledDuringASendBurst_EveryAcknowledgedMessageArrivesOnceInOrder()
    {
        const int count = 300;
        var (alice, bob, conversation) = await ConversationAsync("kill");
        Task? restart = null;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                if (i == count / 3)
                    restart = Task.Run(async () =>
                    {
                        await platform.Messaging.KillAsync();
                        await platform.Messaging.StartAsync();
                    });
                await SendUntilAcknowledgedAsync(alice, conversation, i);
            }
        });

        var texts = await ReceiveAsync(bob, conversation, count);
        await sending;
        await restart!;

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"message {i}"), texts);
        await AssertLogHoldsEachOnceAsync(alice, conversation, count);
    }

    [Fact]
    public async Task ATenSecondPartitionBetweenMessagingAndPostgres_LosesAndDuplicatesNothing()
    {
        const int count = 200;
        var (alice, bob, conversation) = await ConversationAsync("partition");
        var next = -1;
        var sending = Task.Run(async () =>
        {
            // Five senders at once, so requests are in flight on several database connections when the partition starts.
            await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
            {
                for (int i; (i = Interlocked.Increment(ref next)) < count;)
                {
                    await SendUntilAcknowledgedAsync(alice, conversation, i);
                    // The pace of the load (about 100 sends a second): the partition must fall in the middle of it.
                    await Task.Delay(50);
                }
            })));
        });
        await Eventually.Returns(() => Task.FromResult(Volatile.Read(ref next)), taken => taken >= 20, TimeSpan.FromSeconds(30), "the senders are under way");
        platform.Database.Blackhole();
        try
        {
            // The partition's length is the fault under test.
            await Task.Delay(TimeSpan.FromSeconds(10));
        }
        finally
        {
            platform.Database.Restore();
        }

        var texts = await ReceiveAsync(bob, conversation, count);
        await sending;

        // Five concurrent senders: the order is the log's, which the stream follows; every message exactly once.
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"message {i}").Order(), texts.Order());
        await AssertLogHoldsEachOnceAsync(alice, conversation, count);
    }

    [Fact]
    public async Task WhenMessagingCannotReachPostgres_ASendAnswers503ProblemDetailsWithRetryAfter()
    {
        var (alice, _, conversation) = await ConversationAsync("outage");
        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await alice.Sdk.GetAccessTokenAsync());
        platform.Database.Refuse();
        try
        {
            using var refused = await http.PostAsJsonAsync($"api/v1/conversations/{conversation}/messages", new { clientMessageId = "outage-1", text = "now?" });
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode}: {body}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        finally
        {
            platform.Database.Restore();
        }
        // The same send, retried once the database is back, is taken once.
        var sent = await Eventually.Returns(async () =>
        {
            using var retried = await http.PostAsJsonAsync($"api/v1/conversations/{conversation}/messages", new { clientMessageId = "outage-1", text = "now?" });
            return retried.StatusCode;
        }, status => status is HttpStatusCode.Created or HttpStatusCode.OK, TimeSpan.FromSeconds(20), "the send succeeds once the database is back");
        Assert.True(sent is HttpStatusCode.Created or HttpStatusCode.OK);
    }

    private async Task<(User Alice, User Bob, Guid Conversation)> ConversationAsync(string title)
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bob.Id], title)).Id;
        await bob.Sdk.Realtime.StartAsync();
        return (alice, bob, conversation);
    }

    // As an app does: the same clientMessageId until one attempt is acknowledged (the SDK's own retries included).
    private static async Task SendUntilAcknowledgedAsync(User sender, Guid conversation, int i)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            try
            {
                await sender.Sdk.SendMessageAsync(conversation, $"message {i}", clientMessageId: $"m{i}");
                return;
            }
            catch (Exception exception) when (exception is PlatformException or HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                // An app's pause between tries of a send that failed, not a wait for something.
                await Task.Delay(250);
            }
        }
    }

    private static async Task<List<string>> ReceiveAsync(User receiver, Guid conversation, int count)
    {
        var texts = new List<string>();
        var seqs = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await foreach (var e in receiver.Sdk.Realtime.ReadEventsAsync(timeout.Token))
            {
                if (e.ConversationId != conversation)
                    continue;
                seqs.Add(e.Seq);
                if (e.Type == EventTypes.MessagePosted)
                    texts.Add(e.AsMessage()!.Text);
                if (texts.Count == count)
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{texts.Count} of {count} messages arrived within 2 minutes");
        }
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
        return texts;
    }

    private static async Task AssertLogHoldsEachOnceAsync(User member, Guid conversation, int count)
    {
        var ids = new List<string>();
        for (long after = 0; ;)
        {
            var page = await member.Sdk.GetEventsAsync(conversation, after);
            ids.AddRange(page.Items.Where(e => e.Type == EventTypes.MessagePosted).Select(e => e.AsMessage()!.ClientMessageId));
            if (page.Next is null || page.Items.Count == 0)
                break;
            after = page.Items[^1].Seq;
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}").Order(), ids.Order());
    }
}
