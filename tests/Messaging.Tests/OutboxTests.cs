using System.Net.Http.Headers;
using System.Net.Http.Json;
using Npgsql;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class OutboxTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task EveryAppendedEvent_IsPublishedOnTheBusOnce_InSeqOrder()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var owner = host.Client();
        var senders = Enumerable.Range(0, 5).Select(_ => host.Client()).ToList();
        var conversation = await owner.CreateGroup(senders.Select(s => s.UserId).ToArray());

        await Task.WhenAll(senders.Select(async sender =>
        {
            for (var i = 0; i < 20; i++)
                await sender.Send(conversation, $"message {i}");
        }));

        var seqs = new List<long>();
        while (seqs.Count < 101)
        {
            var received = await bus.NextAsync();
            if (received.ConversationId == conversation)
                seqs.Add(received.Seq);
        }
        seqs.AddRange((await bus.DrainAsync(TimeSpan.FromSeconds(1))).Where(e => e.ConversationId == conversation).Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 101).Select(i => (long)i), seqs);
        // Published from memory, then deleted together (one statement per Outbox:DeleteInterval): none is left behind.
        await Eventually.Returns(() => PendingEntriesAsync(conversation), pending => pending == 0, TimeSpan.FromSeconds(10), "published entries are deleted");
    }

    /// <summary>
    /// Many conversations written at once publish from many tasks at once: every published entry is still taken out of
    /// the table (a marking pass missed once leaves entries pending for good, and the relay reads them all back every
    /// sweep). Several rounds: a pass missed in one shows in the next. The race is not hit every time: with the count check this replaced, the test failed in 1 of 6 runs here.
    /// </summary>
    [Fact]
    public async Task ManyConversationsWrittenAtOnce_LeaveNothingPendingInTheOutbox()
    {
        var owners = Enumerable.Range(0, 40).Select(_ => host.Client()).ToList();
        var conversations = await Task.WhenAll(owners.Select(owner => owner.CreateGroup([host.Client().UserId])));
        for (var round = 1; round <= 4; round++)
        {
            await Task.WhenAll(owners.Select(async (owner, i) =>
            {
                for (var m = 0; m < 5; m++)
                    await owner.Send(conversations[i], $"round {round} message {m}");
            }));
            await Eventually.Returns(async () =>
            {
                long pending = 0;
                foreach (var conversation in conversations)
                    pending += await PendingEntriesAsync(conversation);
                return pending;
            }, pending => pending == 0, TimeSpan.FromSeconds(10), $"every entry of round {round} is deleted once published");
        }
    }

    private async Task<long> PendingEntriesAsync(Guid conversationId)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM messaging.mt_doc_outbox WHERE conversation_id = $1", connection)
        {
            Parameters = { new NpgsqlParameter { Value = conversationId } },
        };
        return (long)(await count.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task PostedMessage_OnTheBus_CarriesTheMessageShape()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());

        var sent = await alice.Send(conversation, "over the wire");

        ConversationEvent received;
        do received = await bus.NextAsync();
        while (received.ConversationId != conversation || received.Type != ConversationEventTypes.MessagePosted);
        Assert.Equal(2, received.Seq);
        Assert.Equal(alice.UserId, received.ActorId);
        Assert.Equal(sent.GetProperty("id").GetGuid(), received.Data.GetProperty("id").GetGuid());
        Assert.Equal("over the wire", received.Data.GetProperty("text").GetString());
        Assert.NotNull(received.CommittedAt);
    }

    [Fact]
    public async Task CrashBetweenCommitAndPublish_TheEventArrivesExactlyOnceAfterRestart()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = host.Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = host.Infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = host.Issuer.Issuer,
            ["Auth:MetadataAddress"] = host.Issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Outbox:CrashAfterCommit"] = "true",
        };
        var user = Guid.CreateVersion7();
        var crashing = await ServiceProcess.StartAsync("Messaging", settings);
        using var http = new HttpClient { BaseAddress = crashing.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Issuer.CreateToken(user));

        // The process dies after the commit, before publishing: the caller sees the connection drop.
        await Assert.ThrowsAnyAsync<HttpRequestException>(() =>
            http.PostAsJsonAsync("/api/v1/conversations", new { kind = "group", title = "Crash", memberIds = new[] { Guid.CreateVersion7() } }));
        await crashing.DisposeAsync();
        // Only this user's events count: other tests' processes, stopped within the outbox's delete interval after a
        // publish, may leave entries that any Messaging's relay sends again (at least once; consumers deduplicate).
        Assert.DoesNotContain(await bus.DrainAsync(TimeSpan.FromSeconds(1)), e => e.ActorId == user);

        settings["Outbox:CrashAfterCommit"] = "false";
        settings["Outbox:SweepAge"] = "00:00:00";
        await using var restarted = await ServiceProcess.StartAsync("Messaging", settings);

        ConversationEvent published;
        do published = await bus.NextAsync(TimeSpan.FromSeconds(30));
        while (published.ActorId != user);
        Assert.Equal(ConversationEventTypes.ConversationCreated, published.Type);
        Assert.Equal(1, published.Seq);
        Assert.DoesNotContain(await bus.DrainAsync(TimeSpan.FromSeconds(3)), e => e.ConversationId == published.ConversationId);
        using var again = new HttpClient { BaseAddress = restarted.BaseAddress };
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Issuer.CreateToken(user));
        var conversation = await again.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/conversations/{published.ConversationId}");
        Assert.Equal("Crash", conversation.GetProperty("title").GetString());
    }
    [Fact]
    public async Task AMessageDeletedWhileTheBrokerIsAway_NeverGoesOutWithItsText()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var direct = new Uri(host.Infrastructure.VirtualHost.ConnectionString);
        await using var broker = new TcpProxy(direct);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = host.Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = new UriBuilder(direct) { Port = broker.Address.Port }.Uri.ToString(),
            ["Auth:Issuer"] = host.Issuer.Issuer,
            ["Auth:MetadataAddress"] = host.Issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Outbox:SweepInterval"] = "00:00:00.500",
            ["Outbox:SweepAge"] = "00:00:00.500",
        };
        await using var messaging = await ServiceProcess.StartAsync("Messaging", settings);
        var user = Guid.CreateVersion7();
        using var http = new HttpClient { BaseAddress = messaging.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Issuer.CreateToken(user));
        var created = await http.PostAsJsonAsync("/api/v1/conversations", new { kind = "group", title = "erasure", memberIds = new[] { Guid.CreateVersion7() } });
        var conversation = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
        await bus.NextAsync(TimeSpan.FromSeconds(15));
        // Confirmed and taken out of the table before the broker goes: a confirm lost with the connection would leave
        // conversation.created to be published again (at least once), before the three this test is about.
        await Eventually.Returns(() => PendingEntriesAsync(conversation), pending => pending == 0, TimeSpan.FromSeconds(10), "conversation.created is confirmed and deleted");

        broker.Refuse();
        await Eventually.Returns(() => http.GetStringAsync("/health/ready"), health => !health.Contains("\"rabbitmq\":{\"status\":\"Healthy\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(15), "Messaging sees the broker gone");
        var sent = await http.PostAsJsonAsync($"/api/v1/conversations/{conversation}/messages", new { clientMessageId = "c1", text = "my secret https://example.com/secret" });
        Assert.Equal(System.Net.HttpStatusCode.Created, sent.StatusCode);
        var messageId = (await sent.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
        Assert.True((await http.PatchAsJsonAsync($"/api/v1/conversations/{conversation}/messages/{messageId}", new { text = "still secret" })).IsSuccessStatusCode);
        Assert.True((await http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{messageId}")).IsSuccessStatusCode);
        broker.Restore();

        // As a consumer that drops what it has seen (a seq at or below the last) receives them: the bus is at least once.
        var published = new List<ConversationEvent>();
        while (published.Count < 3)
        {
            var next = await bus.NextAsync(TimeSpan.FromSeconds(30));
            if (next.ConversationId == conversation && next.Seq > (published.Count > 0 ? published[^1].Seq : 1))
                published.Add(next);
        }
        Assert.Equal([ConversationEventTypes.MessagePosted, ConversationEventTypes.MessageEdited, ConversationEventTypes.MessageDeleted], published.Select(e => e.Type));
        Assert.All(published, e => Assert.DoesNotContain("secret", e.Data.GetRawText(), StringComparison.Ordinal));
    }
}

public sealed class ReplicaTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task TwoReplicas_WritingOneConversationAtOnce_KeepSeqsGapFree_AndTheBusInOrderForADeduplicatingConsumer()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = host.Infrastructure.Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = host.Infrastructure.VirtualHost.ConnectionString,
            ["Auth:Issuer"] = host.Issuer.Issuer,
            ["Auth:MetadataAddress"] = host.Issuer.Url,
            ["Auth:RequireHttpsMetadata"] = "false",
        };
        await using var first = await ServiceProcess.StartAsync("Messaging", settings);
        await using var second = await ServiceProcess.StartAsync("Messaging", settings);
        var owner = Guid.CreateVersion7();
        var writers = Enumerable.Range(0, 6).Select(_ => Guid.CreateVersion7()).ToList();
        HttpClient Client(ServiceProcess replica, Guid user)
        {
            var http = new HttpClient { BaseAddress = replica.BaseAddress };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Issuer.CreateToken(user));
            return http;
        }
        var created = await Client(first, owner).PostAsJsonAsync("/api/v1/conversations", new { kind = "group", title = "replicas", memberIds = writers });
        var conversation = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();

        var statuses = await Task.WhenAll(writers.Select((writer, w) => Task.Run(async () =>
        {
            using var http = Client(w % 2 == 0 ? first : second, writer);
            var codes = new List<int>();
            for (var i = 0; i < 50; i++)
                codes.Add((int)(await http.PostAsJsonAsync($"/api/v1/conversations/{conversation}/messages", new { clientMessageId = $"{w}-{i}", text = $"{w}-{i}" })).StatusCode);
            return codes;
        })));

        Assert.All(statuses.SelectMany(c => c), code => Assert.Equal(201, code));
        // What a consumer that drops what it has seen (a seq at or below the last) gets: every seq once, in order. The
        // bus may carry a seq again (at least once: a replica's read-back sends what the other published but has not yet
        // deleted), never one before a smaller one it has not carried yet.
        var seqs = new List<long>();
        while (seqs.Count < 1 + 6 * 50)
        {
            var received = await bus.NextAsync(TimeSpan.FromSeconds(30));
            if (received.ConversationId == conversation && received.Seq > seqs.LastOrDefault())
                seqs.Add(received.Seq);
        }
        Assert.Equal(Enumerable.Range(1, 301).Select(i => (long)i), seqs);
    }
}
