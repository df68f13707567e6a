using System.Net;
using System.Text.Json;
using Npgsql;

namespace Platform.Messaging.Tests;

public sealed class MessageFlowTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task SendMessage_ReturnsTheMessageWithItsSeq_AndHistoryAndLogShowIt()
    {
        var alice = host.Client(name: "Alice");
        var bob = host.Client(name: "Bob");
        var conversation = await alice.CreateGroup(bob.UserId);

        var sent = await alice.Send(conversation, "hello https://example.com/a?b=1 world");

        Assert.Equal(2, sent.GetProperty("seq").GetInt64());
        Assert.Equal(alice.UserId, sent.GetProperty("senderId").GetGuid());
        Assert.Equal("https://example.com/a?b=1", sent.GetProperty("urls")[0].GetString());
        Assert.False(sent.GetProperty("edited").GetBoolean());
        var history = await bob.Get($"/api/v1/conversations/{conversation}/messages");
        Assert.Equal(sent.GetProperty("id").GetGuid(), Assert.Single(history.GetProperty("items").EnumerateArray()).GetProperty("id").GetGuid());
        var log = await bob.Get($"/api/v1/conversations/{conversation}/events?after=0");
        var types = log.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(["conversation.created", "message.posted"], types);
        var posted = log.GetProperty("items")[1];
        Assert.Equal(2, posted.GetProperty("seq").GetInt64());
        Assert.Equal(conversation, posted.GetProperty("conversationId").GetGuid());
        Assert.Equal(alice.UserId, posted.GetProperty("actorId").GetGuid());
        Assert.Equal("hello https://example.com/a?b=1 world", posted.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task ALogPage_SaysItIsTheSameForEveryMember_UnlessItHoldsAnEditedMessageOrTheReaderLeft()
    {
        // The Gateway hands such a page to every member's connection replaying from the same seq: it must not say so
        // when what is in it depends on who reads (earlier versions of an edit show only to the author and admins).
        var alice = host.Client(name: "Alice");
        var bob = host.Client(name: "Bob");
        var conversation = await alice.CreateGroup(bob.UserId);
        var message = (await alice.Send(conversation, "first")).GetProperty("id").GetGuid();

        Assert.True(await SameForEveryMember(bob, conversation, after: 0));
        await alice.Json200(await alice.Patch($"/api/v1/conversations/{conversation}/messages/{message}", new { text = "second" }));
        Assert.False(await SameForEveryMember(bob, conversation, after: 0));
        Assert.False(await SameForEveryMember(alice, conversation, after: 2));
        var third = (await alice.Send(conversation, "third")).GetProperty("id").GetGuid();
        Assert.True(await SameForEveryMember(bob, conversation, after: 3));
        // Who reported and why show only to moderators.
        var reported = await bob.Post($"/api/v1/conversations/{conversation}/messages/{third}/reports", new { reason = "spam" });
        Assert.Equal(HttpStatusCode.Created, reported.StatusCode);
        Assert.False(await SameForEveryMember(bob, conversation, after: 3));
        Assert.True(await SameForEveryMember(bob, conversation, after: 5));

        var removed = await alice.Http.DeleteAsync($"/api/v1/conversations/{conversation}/members/{bob.UserId}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.False(await SameForEveryMember(bob, conversation, after: 5));
        Assert.True(await SameForEveryMember(alice, conversation, after: 5));
    }

    private static async Task<bool> SameForEveryMember(ChatClient reader, Guid conversation, long after)
    {
        using var response = await reader.Http.GetAsync($"/api/v1/conversations/{conversation}/events?after={after}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.TryGetValues(Platform.Contracts.Messaging.ConversationLogHeaders.SameForEveryMember, out var values) && values.Single() == "true";
    }

    [Fact]
    public async Task SendMessage_20ConcurrentDuplicates_YieldOneMessageAndTheSameResponse()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        var request = new { clientMessageId = "retry-me", text = "only once" };

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            var response = await alice.Post($"/api/v1/conversations/{conversation}/messages", request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }));

        Assert.All(responses, r => Assert.Equal(201, r.Item1));
        Assert.Single(responses.Select(r => r.Item2).Distinct());
        var history = await alice.Get($"/api/v1/conversations/{conversation}/messages");
        Assert.Single(history.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task ConcurrentMixedWrites_IntoOneConversation_EachGetsItsOwnOutcome()
    {
        // Writes that queue behind each other go into one transaction together: each must still get the answer it
        // would have had alone: new messages, a retried one answered once, refused replies refused.
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var root = (await alice.Send(conversation, "root")).GetProperty("id").GetGuid();

        var requests = Enumerable.Range(0, 60).Select(i => (i % 6) switch
        {
            0 => (Client: bob, Body: (object)new { clientMessageId = "same", text = "retried" }, Expect: 201),
            1 => (Client: alice, Body: new { clientMessageId = $"bad{i}", text = "reply", replyTo = Guid.CreateVersion7() }, Expect: 400),
            2 => (Client: bob, Body: new { clientMessageId = $"reply{i}", text = $"reply {i}", replyTo = root }, Expect: 201),
            _ => (Client: i % 2 == 0 ? alice : bob, Body: new { clientMessageId = $"m{i}", text = $"message {i}" }, Expect: 201),
        }).ToList();
        var responses = await Task.WhenAll(requests.Select(async r =>
        {
            using var response = await r.Client.Post($"/api/v1/conversations/{conversation}/messages", r.Body);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }));

        Assert.Equal(requests.Select(r => r.Expect), responses.Select(r => r.Item1));
        var retried = responses.Where((_, i) => i % 6 == 0).Select(r => r.Item2).Distinct();
        Assert.Single(retried);
        var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after=0&limit=1000");
        var seqs = log.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToList();
        // Created, the root, 1 retried message, 10 replies, 30 other messages; gap-free.
        Assert.Equal(Enumerable.Range(1, 2 + 1 + 10 + 30).Select(i => (long)i), seqs);
        var rootView = await alice.Get($"/api/v1/conversations/{conversation}/messages/{root}");
        Assert.Equal(10, rootView.GetProperty("replyCount").GetInt32());
    }

    [Fact]
    public async Task ConcurrentWriters_8x500Messages_GetGapFreeSeqsInOneOrder()
    {
        var owner = host.Client();
        var writers = Enumerable.Range(0, 8).Select(_ => host.Client()).ToList();
        var conversation = await owner.CreateGroup(writers.Select(w => w.UserId).ToArray());

        await Task.WhenAll(writers.Select(async writer =>
        {
            for (var i = 0; i < 500; i++)
                await writer.Send(conversation, $"{writer.UserId} #{i}", clientMessageId: $"m{i}");
        }));

        var seqs = new List<long>();
        var perWriter = writers.ToDictionary(w => w.UserId, _ => new List<int>());
        long after = 0;
        while (true)
        {
            var page = await owner.Get($"/api/v1/conversations/{conversation}/events?after={after}&limit=1000");
            foreach (var envelope in page.GetProperty("items").EnumerateArray())
            {
                seqs.Add(envelope.GetProperty("seq").GetInt64());
                if (envelope.GetProperty("type").GetString() == "message.posted")
                {
                    var text = envelope.GetProperty("data").GetProperty("text").GetString()!.Split(" #");
                    perWriter[Guid.Parse(text[0])].Add(int.Parse(text[1]));
                }
            }
            if (page.GetProperty("next").ValueKind == JsonValueKind.Null)
                break;
            after = long.Parse(page.GetProperty("next").GetString()!);
        }

        Assert.Equal(Enumerable.Range(1, 1 + 8 * 500).Select(i => (long)i), seqs);
        Assert.All(perWriter.Values, sent => Assert.Equal(Enumerable.Range(0, 500), sent));
    }

    [Fact]
    public async Task EditDeleteAndReactions_ShowInTheMessageView()
    {
        var alice = host.Client();
        var bob = host.Client();
        var conversation = await alice.CreateGroup(bob.UserId);
        var message = (await alice.Send(conversation, "first draft")).GetProperty("id").GetGuid();
        var path = $"/api/v1/conversations/{conversation}/messages/{message}";

        var edited = await alice.Json200(await alice.Patch(path, new { text = "final text" }));
        Assert.True(edited.GetProperty("edited").GetBoolean());
        Assert.Equal("final text", edited.GetProperty("text").GetString());

        await bob.Json200(await bob.Http.PutAsync($"{path}/reactions/👍", null));
        var reacted = await alice.Json200(await alice.Http.PutAsync($"{path}/reactions/👍", null));
        var thumbs = Assert.Single(reacted.GetProperty("reactions").EnumerateArray());
        Assert.Equal(2, thumbs.GetProperty("count").GetInt32());
        var removed = await bob.Json200(await bob.Http.DeleteAsync($"{path}/reactions/👍"));
        Assert.Equal([alice.UserId], removed.GetProperty("reactions")[0].GetProperty("userIds").EnumerateArray().Select(u => u.GetGuid()));

        var versions = await alice.Get($"{path}/versions");
        Assert.Equal(["first draft", "final text"], versions.GetProperty("items").EnumerateArray().Select(v => v.GetProperty("text").GetString()));
        Assert.Equal(HttpStatusCode.Forbidden, (await bob.Http.GetAsync($"{path}/versions")).StatusCode);
        var bobsLog = await bob.Get($"/api/v1/conversations/{conversation}/events");
        Assert.DoesNotContain(bobsLog.GetProperty("items").EnumerateArray(), e => e.GetProperty("data").TryGetProperty("text", out var t) && t.GetString() == "first draft");

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync(path)).StatusCode);
        var deleted = await bob.Get(path);
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        Assert.Equal("", deleted.GetProperty("text").GetString());
        Assert.Empty(deleted.GetProperty("reactions").EnumerateArray());
        Assert.Equal(HttpStatusCode.Conflict, (await bob.Http.PutAsync($"{path}/reactions/🎉", null)).StatusCode);
    }

    [Fact]
    public async Task DeletedText_IsGoneFromReadModelsAndFromTheEventsTable()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        var secret = "secret-" + Guid.NewGuid().ToString("N");
        var message = (await alice.Send(conversation, secret)).GetProperty("id").GetGuid();
        await alice.Json200(await alice.Patch($"/api/v1/conversations/{conversation}/messages/{message}", new { text = secret + " edited" }));
        Assert.Equal(2, await CountRowsContaining(secret, "mt_events"));

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{conversation}/messages/{message}")).StatusCode);

        Assert.Equal(0, await CountRowsContaining(secret, "mt_events"));
        Assert.Equal(0, await CountRowsContaining(secret, "mt_doc_message"));
        Assert.Equal(0, await CountRowsContaining(secret, "mt_doc_conversation"));
        Assert.Equal(0, await CountRowsContaining(secret, "mt_doc_outbox"));
        var log = await alice.Get($"/api/v1/conversations/{conversation}/events");
        Assert.DoesNotContain(secret, log.GetRawText());
        Assert.Equal(Enumerable.Range(1, 4).Select(i => (long)i), log.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
    }

    private async Task<long> CountRowsContaining(string text, string table)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from messaging.{table} where data::text like '%' || @text || '%'", connection);
        command.Parameters.AddWithValue("text", text);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
