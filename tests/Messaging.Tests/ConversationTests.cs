using System.Net;
using System.Text;
using Npgsql;
using Platform.Contracts.Gateway;
using Platform.Contracts.Identity;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class ConversationTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    // The next receipt change of the conversation that matches (other tests share the vhost, so theirs may come too).
    private static async Task<ReceiptsChanged> NextTold(BusProbe<ReceiptsChangedBatch> bus, Guid conversation, Func<ReceiptsChanged, bool> match)
    {
        while (true)
            foreach (var item in (await bus.NextAsync(TimeSpan.FromSeconds(15))).Items)
                if (item.ConversationId == conversation && match(item))
                    return item;
    }

    [Fact]
    public async Task DirectConversation_CreatedConcurrentlyByBothUsers_IsOneConversation()
    {
        var alice = host.Client();
        var bob = host.Client();

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
        {
            var (me, other) = i % 2 == 0 ? (alice, bob) : (bob, alice);
            return me.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { other.UserId } });
        }));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, r.StatusCode.ToString()));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        var ids = await Task.WhenAll(responses.Select(async r => (await alice.Json200(r)).GetProperty("id").GetGuid()));
        Assert.Single(ids.Distinct());
        var log = await alice.Get($"/api/v1/conversations/{ids[0]}/events");
        Assert.Single(log.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Receipts_MoveOnlyForward_AndCountPerMessage()
    {
        await using var bus = await BusProbe<ReceiptsChangedBatch>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId, carol.UserId);
        var first = await alice.Send(conversation, "one");
        var second = await alice.Send(conversation, "two");
        var receipts = $"/api/v1/conversations/{conversation}/receipts";

        var moved = await bob.Json200(await bob.Post(receipts, new { read = 3 }));
        Assert.Equal(3, moved.GetProperty("read").GetInt64());
        Assert.Equal(3, moved.GetProperty("delivered").GetInt64());
        var back = await bob.Json200(await bob.Post(receipts, new { read = 1, delivered = 2 }));
        Assert.Equal(3, back.GetProperty("read").GetInt64());
        Assert.Equal(3, back.GetProperty("delivered").GetInt64());
        await carol.Json200(await carol.Post(receipts, new { delivered = 2 }));
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Post(receipts, new { read = 99 })).StatusCode);

        var ofFirst = await alice.Get($"/api/v1/conversations/{conversation}/messages/{first.GetProperty("id")}/receipts");
        Assert.Equal(2, ofFirst.GetProperty("deliveredTo").GetInt32());
        Assert.Equal(1, ofFirst.GetProperty("readBy").GetInt32());
        var ofSecond = await alice.Get($"/api/v1/conversations/{conversation}/messages/{second.GetProperty("id")}/receipts");
        Assert.Equal(1, ofSecond.GetProperty("deliveredTo").GetInt32());
        Assert.Equal(1, ofSecond.GetProperty("readBy").GetInt32());

        var published = (await bus.NextAsync()).Items[0];
        Assert.Equal(conversation, published.ConversationId);
        Assert.Contains(published.UserId, new[] { bob.UserId, carol.UserId });
    }

    [Fact]
    public async Task DeliveriesAcknowledged_MoveTheMembersDeliveredCursorsForward_AndDropWhatIsNotTheirs()
    {
        await using var bus = await BusProbe<ReceiptsChangedBatch>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var dave = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId, carol.UserId);
        await alice.Send(conversation, "one");
        var last = await alice.Send(conversation, "two");
        var lastSeq = last.GetProperty("seq").GetInt64();
        DeliveryAcknowledgement Ack(Guid user, long seq) => new() { UserId = user, ConversationId = conversation, Seq = seq };

        // Bob twice (the highest counts), Carol beyond the log, Dave not a member: one batch, as a Gateway sends it.
        await bus.PublishAsync(new DeliveriesAcknowledged
        {
            InstanceId = "gateway-test", AcknowledgedAt = DateTimeOffset.UtcNow,
            Items = [Ack(bob.UserId, lastSeq), Ack(bob.UserId, lastSeq - 1), Ack(carol.UserId, lastSeq + 5), Ack(dave.UserId, 1)],
        });

        // The class's other tests share the vhost, so their flushes may come too: only what this batch could have moved counts
        // (this conversation's cursors of the acknowledging users; Alice's own move with her sends).
        bool Acknowledged(ReceiptsChanged item) => item.ConversationId == conversation && item.UserId != alice.UserId;
        var ours = new List<ReceiptsChanged>();
        while (ours.Count == 0)
            ours.AddRange((await bus.NextAsync(TimeSpan.FromSeconds(15))).Items.Where(Acknowledged));
        ours.AddRange((await bus.DrainAsync(TimeSpan.FromSeconds(1))).SelectMany(b => b.Items).Where(Acknowledged));
        var told = Assert.Single(ours);
        Assert.Equal((bob.UserId, lastSeq), (told.UserId, told.DeliveredSeq));
        // To the sender of what it covers, nobody else.
        Assert.Equal([alice.UserId], told.ToUserIds);
        var receipts = await alice.Get($"/api/v1/conversations/{conversation}/messages/{last.GetProperty("id")}/receipts");
        Assert.Equal((1, 0), (receipts.GetProperty("deliveredTo").GetInt32(), receipts.GetProperty("readBy").GetInt32()));
        // Never back, and nothing told when nothing moved; Dave learns nothing of the conversation.
        await bus.PublishAsync(new DeliveriesAcknowledged { InstanceId = "gateway-test", AcknowledgedAt = DateTimeOffset.UtcNow, Items = [Ack(bob.UserId, 1)] });
        Assert.DoesNotContain((await bus.DrainAsync(TimeSpan.FromSeconds(1))).SelectMany(b => b.Items), Acknowledged);
        Assert.Equal(HttpStatusCode.NotFound, (await dave.Post($"/api/v1/conversations/{conversation}/receipts", new { delivered = 1 })).StatusCode);
        var bobs = await bob.Json200(await bob.Post($"/api/v1/conversations/{conversation}/receipts", new { delivered = 1 }));
        Assert.Equal(lastSeq, bobs.GetProperty("delivered").GetInt64());
    }

    [Fact]
    public async Task Receipts_AreToldToTheSendersOfTheMessagesTheyCover_AndReadsAlsoToTheReadersOwnDevices()
    {
        await using var bus = await BusProbe<ReceiptsChangedBatch>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId, carol.UserId);
        var fromAlice = (await alice.Send(conversation, "from Alice")).GetProperty("seq").GetInt64();
        var fromCarol = (await carol.Send(conversation, "from Carol")).GetProperty("seq").GetInt64();
        var receipts = $"/api/v1/conversations/{conversation}/receipts";
        Task<ReceiptsChanged> Told(Func<ReceiptsChanged, bool> match) => NextTold(bus, conversation, match);

        // Each step waits for its flush, so that no two are coalesced.
        await bob.Json200(await bob.Post(receipts, new { delivered = fromAlice }));
        Assert.Equal([alice.UserId], (await Told(r => r.UserId == bob.UserId && r.DeliveredSeq == fromAlice)).ToUserIds);
        await bob.Json200(await bob.Post(receipts, new { delivered = fromCarol }));
        Assert.Equal([carol.UserId], (await Told(r => r.UserId == bob.UserId && r.DeliveredSeq == fromCarol)).ToUserIds);
        // Reading covers both messages (their "read" marks change) and Bob's own devices follow his read cursor.
        await bob.Json200(await bob.Post(receipts, new { read = fromCarol }));
        var read = await Told(r => r.UserId == bob.UserId && r.ReadSeq == fromCarol);
        Assert.Equal(new[] { alice.UserId, bob.UserId, carol.UserId }.Order(), read.ToUserIds!.Order());
        // Alice's delivered cursor covers Carol's message only (her own moved when she sent).
        await alice.Json200(await alice.Post(receipts, new { delivered = fromCarol }));
        Assert.Equal([carol.UserId], (await Told(r => r.UserId == alice.UserId && r.DeliveredSeq == fromCarol)).ToUserIds);
    }

    [Fact]
    public async Task AcceptingAMessageRequest_TellsTheMembersWhereTheRecipientsCursorsStand()
    {
        await using var bus = await BusProbe<ReceiptsChangedBatch>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var bob = host.Client();
        var alice = host.Client();
        host.Issuer.Relations.Stranger(alice.UserId, bob.UserId);
        var direct = (await bob.Json200(await bob.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.UserId } })))
            .GetProperty("id").GetGuid();
        var hello = (await bob.Send(direct, "hello Alice")).GetProperty("seq").GetInt64();
        Task<ReceiptsChanged> Told(Func<ReceiptsChanged, bool> match) => NextTold(bus, direct, match);

        // A request: what Alice reads is for her own devices only...
        await alice.Json200(await alice.Post($"/api/v1/conversations/{direct}/receipts", new { read = hello }));
        Assert.True((await Told(r => r.UserId == alice.UserId && r.ReadSeq == hello)).OwnDevicesOnly);
        // ...until she accepts: then Bob learns where her cursors stand, though accepting moved none of them (the next
        // receipt would cover only what comes after).
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Post($"/api/v1/conversations/{direct}/accept", new { })).StatusCode);
        var accepted = await Told(r => r.UserId == alice.UserId && !r.OwnDevicesOnly);
        Assert.Equal((hello, (long?)hello), (accepted.DeliveredSeq, accepted.ReadSeq));
        Assert.Null(accepted.ToUserIds);
    }

    [Fact]
    public async Task DeliveriesAcknowledged_DoNotWaitForAMembershipASendHolds_AndMoveItOnceReleased()
    {
        await using var bus = await BusProbe<ReceiptsChangedBatch>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId, carol.UserId);
        var sent = await alice.Send(conversation, "one");
        var lastSeq = sent.GetProperty("seq").GetInt64();

        // Carol's membership row held by a transaction, as a send holds its sender's until it commits.
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        var holding = await connection.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("select 1 from messaging.mt_doc_membership where id = $1 for update", connection, holding))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = $"{conversation:N}:{carol.UserId:N}" });
            Assert.Equal(1, await hold.ExecuteScalarAsync());
        }
        await bus.PublishAsync(new DeliveriesAcknowledged
        {
            InstanceId = "gateway-test", AcknowledgedAt = DateTimeOffset.UtcNow,
            Items =
            [
                new DeliveryAcknowledgement { UserId = bob.UserId, ConversationId = conversation, Seq = lastSeq },
                new DeliveryAcknowledgement { UserId = carol.UserId, ConversationId = conversation, Seq = lastSeq },
            ],
        });

        // Bob's cursor moves and is told while Carol's row is held (the batch does not wait for it)...
        var told = new List<ReceiptsChanged>();
        async Task<ReceiptsChanged> Told(Guid user)
        {
            while (!told.Any(item => item.UserId == user))
                told.AddRange((await bus.NextAsync(TimeSpan.FromSeconds(15))).Items.Where(item => item.ConversationId == conversation));
            return told.Single(item => item.UserId == user);
        }
        Assert.Equal(lastSeq, (await Told(bob.UserId)).DeliveredSeq);
        Assert.DoesNotContain(told, item => item.UserId == carol.UserId);
        // ...and Carol's once the row is released.
        await holding.CommitAsync();
        Assert.Equal(lastSeq, (await Told(carol.UserId)).DeliveredSeq);
        var receipts = await alice.Get($"/api/v1/conversations/{conversation}/messages/{sent.GetProperty("id")}/receipts");
        Assert.Equal(2, receipts.GetProperty("deliveredTo").GetInt32());
    }

    [Fact]
    public async Task Inbox_ListsNewestActivityFirst_WithUnreadAndMentionCounts()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client(name: "Alice");
        var bob = host.Client(name: "Bob");
        var aliceName = "alice" + Guid.NewGuid().ToString("N")[..8];
        await bus.PublishAsync(new UserRegistered { UserId = alice.UserId, Username = aliceName, DisplayName = "Alice", RegisteredAt = DateTimeOffset.UtcNow });
        var scratch = await bob.CreateGroup(alice.UserId);
        await Eventually.Returns(
            async () => (await bob.Send(scratch, $"@{aliceName} are you there?")).GetProperty("mentions").GetArrayLength(),
            count => count == 1, TimeSpan.FromSeconds(15), "Messaging learned Alice's username from UserRegistered");
        await alice.Json200(await alice.Post($"/api/v1/conversations/{scratch}/receipts", new { read = (await alice.Get($"/api/v1/conversations/{scratch}")).GetProperty("lastSeq").GetInt64() }));

        var quiet = await alice.CreateGroup(bob.UserId);
        var busy = await alice.CreateGroup(bob.UserId);
        // Sending implies having read what came before; only what others sent after counts.
        await alice.Send(busy, "my own message");
        await bob.Send(busy, "no mention");
        await bob.Send(busy, $"hey @{aliceName}, look");
        var last = await bob.Send(busy, $"@{aliceName.ToUpperInvariant()} again");
        await bob.Send(quiet, "hello quiet");
        await bob.Send(busy, "newest");

        var inbox = await alice.Get("/api/v1/conversations");
        var rows = inbox.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([busy, quiet, scratch], rows.Select(r => r.GetProperty("id").GetGuid()));
        Assert.Equal(4, rows[0].GetProperty("unreadCount").GetInt32());
        Assert.Equal(2, rows[0].GetProperty("mentionCount").GetInt32());
        Assert.Equal("owner", rows[0].GetProperty("role").GetString());
        Assert.Equal("newest", rows[0].GetProperty("lastMessage").GetProperty("text").GetString());
        Assert.Equal(1, rows[1].GetProperty("unreadCount").GetInt32());
        Assert.Equal(0, rows[2].GetProperty("unreadCount").GetInt32());

        await alice.Json200(await alice.Post($"/api/v1/conversations/{busy}/receipts", new { read = last.GetProperty("seq").GetInt64() }));
        var afterReading = (await alice.Get("/api/v1/conversations")).GetProperty("items")[0];
        Assert.Equal(1, afterReading.GetProperty("unreadCount").GetInt32());
        Assert.Equal(0, afterReading.GetProperty("mentionCount").GetInt32());

        var firstPage = await alice.Get("/api/v1/conversations?limit=2");
        Assert.Equal(2, firstPage.GetProperty("items").GetArrayLength());
        var secondPage = await alice.Get($"/api/v1/conversations?limit=2&cursor={firstPage.GetProperty("next").GetString()}");
        Assert.Equal(scratch, Assert.Single(secondPage.GetProperty("items").EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task ReadCursor_NeverMovesBack_WhileMessagesMentioningTheReaderAreSent()
    {
        await using var bus = await BusProbe<ConversationEvent>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);
        var alice = host.Client();
        var bob = host.Client();
        var bobName = "bob" + Guid.NewGuid().ToString("N")[..8];
        await bus.PublishAsync(new UserRegistered { UserId = bob.UserId, Username = bobName, DisplayName = "Bob", RegisteredAt = DateTimeOffset.UtcNow });
        var conversation = await alice.CreateGroup(bob.UserId);
        await Eventually.Returns(
            async () => (await alice.Send(conversation, $"@{bobName} hi")).GetProperty("mentions").GetArrayLength(),
            count => count == 1, TimeSpan.FromSeconds(15), "Messaging learned Bob's username");

        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
                await alice.Send(conversation, $"@{bobName} number {i}");
        });
        var cursors = new List<long>();
        while (!sending.IsCompleted)
        {
            var lastSeq = (await bob.Get($"/api/v1/conversations/{conversation}")).GetProperty("lastSeq").GetInt64();
            var moved = await bob.Json200(await bob.Post($"/api/v1/conversations/{conversation}/receipts", new { read = lastSeq }));
            cursors.Add(moved.GetProperty("read").GetInt64());
        }
        await sending;

        Assert.Equal(cursors.Order(), cursors);
        var final = await bob.Get($"/api/v1/conversations/{conversation}/messages?limit=1");
        var inbox = (await bob.Get("/api/v1/conversations")).GetProperty("items").EnumerateArray().Single(row => row.GetProperty("id").GetGuid() == conversation);
        Assert.True(inbox.GetProperty("readSeq").GetInt64() >= cursors[^1]);
        Assert.NotEqual(0, final.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Retention_ErasesMessagesOlderThanTheConversationAllows_WhenTheClockMoves()
    {
        var alice = host.Client();
        var conversation = (await alice.Json200(await alice.Post("/api/v1/conversations",
            new { kind = "group", title = "Ephemeral", memberIds = new[] { Guid.CreateVersion7() }, retentionDays = 1 }))).GetProperty("id").GetGuid();
        var old = await alice.Send(conversation, "expires soon");

        host.Clock.Advance(TimeSpan.FromHours(25));
        var fresh = await alice.Send(conversation, "still fresh");

        await Eventually.Returns(
            () => alice.Get($"/api/v1/conversations/{conversation}/messages/{old.GetProperty("id")}"),
            m => m.GetProperty("deleted").GetBoolean(), TimeSpan.FromSeconds(20), "the expired message is erased");
        var kept = await alice.Get($"/api/v1/conversations/{conversation}/messages/{fresh.GetProperty("id")}");
        Assert.Equal("still fresh", kept.GetProperty("text").GetString());
        var log = await alice.Get($"/api/v1/conversations/{conversation}/events");
        var items = log.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, items.Count).Select(i => (long)i), items.Select(e => e.GetProperty("seq").GetInt64()));
        var tombstone = items.Single(e => e.GetProperty("type").GetString() == "message.deleted");
        Assert.Equal("retention", tombstone.GetProperty("data").GetProperty("reason").GetString());
        Assert.DoesNotContain("expires soon", log.GetRawText());
    }

    public static TheoryData<string, string, string> BadRequests => new()
    {
        { "empty text", "POST", """{"clientMessageId":"a","text":"   "}""" },
        { "control characters only", "POST", "{\"clientMessageId\":\"a\",\"text\":\"\\u0000\\u0007\"}" },
        { "text too long", "POST", $$"""{"clientMessageId":"a","text":"{{new string('x', 4001)}}"}""" },
        { "no clientMessageId", "POST", """{"text":"hi"}""" },
        { "malformed JSON", "POST", """{"clientMessageId":"a","text":""" },
        { "wrong type", "POST", """{"clientMessageId":"a","text":42}""" },
        { "reply to an unknown message", "POST", $$"""{"clientMessageId":"a","text":"hi","replyTo":"{{Guid.NewGuid()}}"}""" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task SendMessage_WithBadInput_Returns400AndStoresNothing(string why, string method, string body)
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());

        var response = await alice.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/api/v1/conversations/{conversation}/messages")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        });

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, (await alice.Get($"/api/v1/conversations/{conversation}")).GetProperty("lastSeq").GetInt64());
    }

    [Fact]
    public async Task OtherBadInput_Gets4xxProblems_AndChangesNothing()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var message = (await alice.Send(conversation, "original")).GetProperty("id").GetGuid();
        var path = $"/api/v1/conversations/{conversation}";

        var cases = new (string Why, Func<Task<HttpResponseMessage>> Call, HttpStatusCode Expected)[]
        {
            ("bad emoji", () => bob.Http.PutAsync($"{path}/messages/{message}/reactions/notanemoji", null), HttpStatusCode.BadRequest),
            ("two emoji", () => bob.Http.PutAsync($"{path}/messages/{message}/reactions/👍👍", null), HttpStatusCode.BadRequest),
            ("edit someone else's message", () => bob.Patch($"{path}/messages/{message}", new { text = "hijacked" }), HttpStatusCode.Forbidden),
            ("empty edit", () => alice.Patch($"{path}/messages/{message}", new { text = "" }), HttpStatusCode.BadRequest),
            ("receipt beyond the log", () => bob.Post($"{path}/receipts", new { read = 1000 }), HttpStatusCode.BadRequest),
            ("negative receipt", () => bob.Post($"{path}/receipts", new { delivered = -1 }), HttpStatusCode.BadRequest),
            ("malformed conversation id", () => bob.Http.GetAsync("/api/v1/conversations/not-a-guid/messages"), HttpStatusCode.NotFound),
            ("malformed message id", () => bob.Http.GetAsync($"{path}/messages/123"), HttpStatusCode.NotFound),
            ("unknown conversation", () => bob.Http.GetAsync($"/api/v1/conversations/{Guid.NewGuid()}/events"), HttpStatusCode.NotFound),
            ("unknown kind", () => bob.Post("/api/v1/conversations", new { kind = "party", memberIds = new[] { alice.UserId } }), HttpStatusCode.BadRequest),
            ("direct with three members", () => bob.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { alice.UserId, Guid.NewGuid() } }), HttpStatusCode.BadRequest),
            ("channel without title", () => bob.Post("/api/v1/conversations", new { kind = "channel", memberIds = Array.Empty<Guid>() }), HttpStatusCode.BadRequest),
            ("negative retention", () => alice.Patch(path, new { retentionDays = -3 }), HttpStatusCode.BadRequest),
            ("unknown role", () => alice.Patch($"{path}/members/{bob.UserId}", new { role = "king" }), HttpStatusCode.BadRequest),
            ("before and after together", () => bob.Http.GetAsync($"{path}/messages?before=5&after=1"), HttpStatusCode.BadRequest),
            ("bad inbox cursor", () => bob.Http.GetAsync("/api/v1/conversations?cursor=%%%"), HttpStatusCode.BadRequest),
        };
        foreach (var (why, call, expected) in cases)
        {
            var response = await call();
            Assert.True(response.StatusCode == expected, $"{why}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var after = await alice.Get($"{path}/messages/{message}");
        Assert.Equal("original", after.GetProperty("text").GetString());
        Assert.Empty(after.GetProperty("reactions").EnumerateArray());
        Assert.Equal(2, (await alice.Get(path)).GetProperty("lastSeq").GetInt64());
    }

    [Fact]
    public async Task Replies_CountOnTheRootMessage()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var root = (await alice.Send(conversation, "root")).GetProperty("id").GetGuid();

        var reply = await bob.Send(conversation, "first reply", replyTo: root);
        var nested = await alice.Send(conversation, "reply to the reply", replyTo: reply.GetProperty("id").GetGuid());

        Assert.Equal(root, nested.GetProperty("replyTo").GetGuid());
        var rootView = await alice.Get($"/api/v1/conversations/{conversation}/messages/{root}");
        Assert.Equal(2, rootView.GetProperty("replyCount").GetInt32());
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, rootView.GetProperty("lastReplyAt").ValueKind);
    }

    [Fact]
    public async Task PublicChannel_AnyoneJoinsAndLeaves_PrivateChannelIsHidden()
    {
        var owner = host.Client();
        var visitor = host.Client();
        var open = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "general", memberIds = Array.Empty<Guid>() }))).GetProperty("id").GetGuid();
        var closed = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "secret", isPublic = false, memberIds = Array.Empty<Guid>() }))).GetProperty("id").GetGuid();

        var joined = await visitor.Json200(await visitor.Post($"/api/v1/conversations/{open}/members", new { userIds = new[] { visitor.UserId } }));
        Assert.Equal("member", joined.GetProperty("role").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await visitor.Post($"/api/v1/conversations/{closed}/members", new { userIds = new[] { visitor.UserId } })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await visitor.Http.DeleteAsync($"/api/v1/conversations/{open}/members/{visitor.UserId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await visitor.Http.GetAsync($"/api/v1/conversations/{open}")).StatusCode);
    }
}
