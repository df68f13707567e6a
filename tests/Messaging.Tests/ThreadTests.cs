using System.Net;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Messaging;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>The thread view, following and per-thread unread and mention counts.</summary>
public sealed class ThreadTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static Guid Id(JsonElement message) => message.GetProperty("id").GetGuid();

    private static JsonElement? Row(JsonElement threads, Guid rootId) =>
        threads.GetProperty("items").EnumerateArray().Where(t => t.GetProperty("id").GetGuid() == rootId).Cast<JsonElement?>().SingleOrDefault();

    [Fact]
    public async Task Thread_ShowsTheRootAndItsRepliesInOrder_PagedForward_AndAReplysIdShowsItsRootsThread()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var root = await alice.Send(group, "root");
        await alice.Send(group, "not in the thread");
        var replies = new List<Guid>();
        for (var i = 0; i < 3; i++)
            replies.Add(Id(await bob.Send(group, $"reply {i}", replyTo: Id(root))));
        // A reply to a reply joins the root's thread.
        replies.Add(Id(await alice.Send(group, "reply to a reply", replyTo: replies[0])));

        var first = await bob.Get($"/api/v1/conversations/{group}/messages/{Id(root)}/thread?limit=3");
        Assert.Equal(Id(root), Id(first.GetProperty("root")));
        Assert.Equal(4, first.GetProperty("root").GetProperty("replyCount").GetInt32());
        Assert.Equal(replies[..3], first.GetProperty("items").EnumerateArray().Select(Id));
        var next = first.GetProperty("next").GetString();
        var second = await bob.Get($"/api/v1/conversations/{group}/messages/{Id(root)}/thread?limit=3&after={next}");
        Assert.Equal([replies[3]], second.GetProperty("items").EnumerateArray().Select(Id));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
        var viaReply = await bob.Get($"/api/v1/conversations/{group}/messages/{replies[2]}/thread");
        Assert.Equal(Id(root), Id(viaReply.GetProperty("root")));

        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.GetAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/thread")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync($"/api/v1/conversations/{group}/messages/{Guid.CreateVersion7()}/thread")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Http.GetAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/thread?after=-1")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Http.GetAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/thread?after=soon")).StatusCode);
    }

    [Fact]
    public async Task Replying_FollowsThePosterAndTheRootsAuthor_WithUnreadAndMentionCountsPerUser()
    {
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var carolsName = "carol" + Guid.NewGuid().ToString("N")[..8];
        await using (var session = host.Factory.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            session.Store(new UserDirectoryEntry { Id = carol.UserId, Username = carolsName, DisplayName = "Carol" });
            await session.SaveChangesAsync();
        }
        var group = await alice.CreateGroup(bob.UserId, carol.UserId);
        var root = await alice.Send(group, "who is in for lunch?");

        await bob.Send(group, "me", replyTo: Id(root));
        await bob.Send(group, $"@{carolsName} too?", replyTo: Id(root));

        var alices = Row(await alice.Get("/api/v1/threads"), Id(root))!.Value;
        Assert.Equal((2, 0), (alices.GetProperty("unreadCount").GetInt32(), alices.GetProperty("mentionCount").GetInt32()));
        Assert.Equal(group, alices.GetProperty("conversationId").GetGuid());
        Assert.Equal(2, alices.GetProperty("root").GetProperty("replyCount").GetInt32());
        var bobs = Row(await bob.Get("/api/v1/threads"), Id(root))!.Value;
        Assert.Equal(0, bobs.GetProperty("unreadCount").GetInt32());
        // Carol was mentioned but follows nothing until she follows or replies.
        Assert.Null(Row(await carol.Get("/api/v1/threads"), Id(root)));
        Assert.Equal(HttpStatusCode.NoContent, (await carol.Http.PutAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/follow", null)).StatusCode);
        var carols = Row(await carol.Get("/api/v1/threads"), Id(root))!.Value;
        Assert.Equal(0, carols.GetProperty("unreadCount").GetInt32());
        await bob.Send(group, $"@{carolsName} ping", replyTo: Id(root));
        carols = Row(await carol.Get("/api/v1/threads"), Id(root))!.Value;
        Assert.Equal((1, 1), (carols.GetProperty("unreadCount").GetInt32(), carols.GetProperty("mentionCount").GetInt32()));

        // Alice reads the thread: her counts only.
        var read = await alice.Json200(await alice.Post($"/api/v1/conversations/{group}/messages/{Id(root)}/thread/read", new { }));
        Assert.True(read.GetProperty("following").GetBoolean());
        Assert.Equal(0, Row(await alice.Get("/api/v1/threads"), Id(root))!.Value.GetProperty("unreadCount").GetInt32());
        Assert.Equal(1, Row(await carol.Get("/api/v1/threads"), Id(root))!.Value.GetProperty("unreadCount").GetInt32());
        var thread = await alice.Get($"/api/v1/conversations/{group}/messages/{Id(root)}/thread");
        Assert.True(thread.GetProperty("following").GetBoolean());
    }

    [Fact]
    public async Task Unfollowing_StopsListing_TheRootsAuthorIsNotFollowedBack_ButReplyingFollowsAgain()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var root = await alice.Send(group, "a question");
        await bob.Send(group, "an answer", replyTo: Id(root));
        Assert.NotNull(Row(await alice.Get("/api/v1/threads"), Id(root)));

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/follow")).StatusCode);
        Assert.Null(Row(await alice.Get("/api/v1/threads"), Id(root)));
        await bob.Send(group, "another answer", replyTo: Id(root));
        Assert.Null(Row(await alice.Get("/api/v1/threads"), Id(root)));

        await alice.Send(group, "thanks", replyTo: Id(root));
        var row = Row(await alice.Get("/api/v1/threads"), Id(root))!.Value;
        Assert.Equal(0, row.GetProperty("unreadCount").GetInt32());
        Assert.Equal(3, row.GetProperty("replyCount").GetInt32());
    }

    [Fact]
    public async Task AFollowChange_IsToldToNotifications_AtOnce_OrByTheRelay_WhenItsPublishDidNotHappen()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var root = Id(await alice.Send(group, "a thread"));
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        async Task<IReadOnlyList<UntoldFollowChange>> Untold()
        {
            await using var session = store.QuerySession();
            return await session.Query<UntoldFollowChange>().Where(c => c.RootId == root).ToListAsync();
        }
        await using var bus = await BusProbe<ThreadFollowChanged>.StartAsync(host.Infrastructure.VirtualHost.ConnectionString);

        // At once: published after the commit, and nothing is left untold.
        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.PutAsync($"/api/v1/conversations/{group}/messages/{root}/follow", null)).StatusCode);
        var told = await bus.NextAsync();
        Assert.Equal((group, root, bob.UserId, true), (told.ConversationId, told.RootId, told.UserId, told.Following));
        await Eventually.Returns(Untold, untold => untold.Count == 0, TimeSpan.FromSeconds(10), "the told change is taken out");

        // A change committed whose publish did not happen (the broker was away, or the process died after the commit):
        // stored with the follow, the relay publishes it, once, and takes it out.
        var changedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        await using (var session = store.LightweightSession())
        {
            session.Store(new UntoldFollowChange
            {
                Id = ThreadFollow.KeyOf(bob.UserId, root), ConversationId = group, RootId = root, UserId = bob.UserId, Following = false, ChangedAt = changedAt,
            });
            await session.SaveChangesAsync();
        }
        // (The relay's own pass, every Outbox:SweepInterval, may take it first: either way it is published.)
        await host.Factory.Services.GetRequiredService<FollowChanges>().SweepAsync(CancellationToken.None);
        var late = await bus.NextAsync();
        Assert.Equal((bob.UserId, false, changedAt), (late.UserId, late.Following, late.ChangedAt));
        await Eventually.Returns(Untold, untold => untold.Count == 0, TimeSpan.FromSeconds(10), "the relayed change is taken out");
    }

    [Fact]
    public async Task Threads_OfAConversationLeft_AreNotListed_AndNonMembersCannotFollow()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var root = await alice.Send(group, "topic");
        await bob.Send(group, "reply", replyTo: Id(root));
        Assert.NotNull(Row(await bob.Get("/api/v1/threads"), Id(root)));

        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"/api/v1/conversations/{group}/members/{bob.UserId}")).StatusCode);
        Assert.Null(Row(await bob.Get("/api/v1/threads"), Id(root)));
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.PutAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/follow", null)).StatusCode);
        var stranger = host.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.PutAsync($"/api/v1/conversations/{group}/messages/{Id(root)}/follow", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Post($"/api/v1/conversations/{group}/messages/{Id(root)}/thread/read", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.Http.PutAsync($"/api/v1/conversations/{group}/messages/{Guid.CreateVersion7()}/follow", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.Post($"/api/v1/conversations/{group}/messages/{Id(root)}/thread/read", new { seq = 10_000 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.Http.GetAsync("/api/v1/threads?cursor=nonsense")).StatusCode);
    }

    [Fact]
    public async Task FollowedThreads_PageNewestReplyFirst()
    {
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var roots = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var root = await alice.Send(group, $"topic {i}");
            roots.Add(Id(root));
            await alice.Send(group, "first", replyTo: Id(root));
        }
        await alice.Send(group, "bump", replyTo: roots[0]);

        var first = await alice.Get("/api/v1/threads?limit=2");
        Assert.Equal([roots[0], roots[2]], first.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()));
        var second = await alice.Get($"/api/v1/threads?limit=2&cursor={first.GetProperty("next").GetString()}");
        Assert.Equal([roots[1]], second.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task ThreadPage_AndUnreadCounts_ReadRepliesByTheReplyToIndex()
    {
        // A long conversation with a short thread: its replies come from the replyTo index, not a walk of the conversation.
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var root = await alice.Send(group, "root");
        await alice.Send(group, "reply", replyTo: Id(root));
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        await store.BulkInsertAsync(Enumerable.Range(0, 5000).Select(i => new MessageView
        {
            Id = Guid.CreateVersion7(), ConversationId = group, Seq = 1000 + i, SenderId = alice.UserId, ClientMessageId = $"bulk-{i}", Text = $"filler {i}",
            ReplyTo = i % 500 == 0 ? Guid.CreateVersion7() : null, CreatedAt = DateTimeOffset.UtcNow,
        }).ToList());
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        await using (var analyze = new NpgsqlCommand($"analyze {MessagingServiceExtensions.Schema}.mt_doc_message", connection))
            await analyze.ExecuteNonQueryAsync();

        await using var session = store.QuerySession();
        var rootId = Id(root);
        var command = session.Query<MessageView>()
            .Where(m => m.ReplyTo == rootId && m.ConversationId == group && m.Seq > 0 && m.Seq <= long.MaxValue)
            .OrderBy(m => m.Seq).Take(51).ToCommand();
        command.Connection = connection;
        command.CommandText = "explain " + command.CommandText;
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(0));
        Assert.True(string.Join("\n", plan).Contains(Threads.ReplyToIndex), string.Join("\n", plan));

        // The unread count of GET /threads uses the same expression as the index.
        await using var unread = new NpgsqlCommand(
            $"explain select 1 from {MessagingServiceExtensions.Schema}.mt_doc_message x where CAST(x.data ->> 'replyTo' as uuid) = $1 and x.seq > 0", connection);
        unread.Parameters.Add(new NpgsqlParameter { Value = rootId });
        plan.Clear();
        await using (var reader = await unread.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(0));
        Assert.True(string.Join("\n", plan).Contains(Threads.ReplyToIndex), string.Join("\n", plan));
        Assert.Single((await alice.Get($"/api/v1/conversations/{group}/messages/{rootId}/thread")).GetProperty("items").EnumerateArray());
    }
}
