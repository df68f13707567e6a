using System.Net;
using System.Net.Http.Json;

namespace Platform.Messaging.Tests;

/// <summary>Pinned messages (log events every member sees) and saved messages (private to each user).</summary>
public sealed class PinsAndSavedTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task APinnedMessage_IsListedNewestFirst_IsALogEvent_AndLeavesThePinsWhenUnpinnedOrDeleted()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var first = (await alice.Send(group, "agenda")).GetProperty("id").GetGuid();
        var second = (await bob.Send(group, "minutes")).GetProperty("id").GetGuid();

        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.PutAsync($"/api/v1/conversations/{group}/pins/{first}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.PutAsync($"/api/v1/conversations/{group}/pins/{second}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.PutAsync($"/api/v1/conversations/{group}/pins/{second}", null)).StatusCode);

        var pins = (await bob.Get($"/api/v1/conversations/{group}/pins")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([second, first], pins.Select(p => p.GetProperty("id").GetGuid()));
        Assert.All(pins, p => Assert.True(p.GetProperty("pinned").GetBoolean()));
        var log = (await alice.Get($"/api/v1/conversations/{group}/events")).GetProperty("items").EnumerateArray().ToList();
        var pinned = log.Where(e => e.GetProperty("type").GetString() == "message.pinned").ToList();
        Assert.Equal(2, pinned.Count);
        Assert.Equal(bob.UserId, pinned[0].GetProperty("actorId").GetGuid());

        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{group}/pins/{first}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{second}")).StatusCode);
        Assert.Empty((await bob.Get($"/api/v1/conversations/{group}/pins")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.GetAsync($"/api/v1/conversations/{group}/pins")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.Http.PutAsync($"/api/v1/conversations/{group}/pins/{Guid.CreateVersion7()}", null)).StatusCode);
    }

    [Fact]
    public async Task InAChannel_OnlyOwnersAndAdminsPin()
    {
        var owner = host.Client();
        var member = host.Client();
        var channel = (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind = "channel", title = "News", memberIds = new[] { member.UserId } })))
            .GetProperty("id").GetGuid();
        var message = (await member.Send(channel, "scoop")).GetProperty("id").GetGuid();

        Assert.Equal(HttpStatusCode.Forbidden, (await member.Http.PutAsync($"/api/v1/conversations/{channel}/pins/{message}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.PutAsync($"/api/v1/conversations/{channel}/pins/{message}", null)).StatusCode);
    }

    [Fact]
    public async Task SavedMessages_ArePrivate_PagedNewestFirst_AndOnlyWhileReadable()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
            ids.Add((await alice.Send(group, $"note {i}")).GetProperty("id").GetGuid());
        foreach (var id in ids)
            await bob.Json200(await bob.Http.PutAsync($"/api/v1/saved-messages/{id}", null));
        await bob.Json200(await bob.Http.PutAsync($"/api/v1/saved-messages/{ids[0]}", null));

        var firstPage = await bob.Get("/api/v1/saved-messages?limit=2");
        Assert.Equal([ids[2], ids[1]], firstPage.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("message").GetProperty("id").GetGuid()));
        var next = firstPage.GetProperty("next").GetString();
        var secondPage = await bob.Get($"/api/v1/saved-messages?limit=2&cursor={next}");
        Assert.Equal([ids[0]], secondPage.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("message").GetProperty("id").GetGuid()));
        Assert.Empty((await alice.Get("/api/v1/saved-messages")).GetProperty("items").EnumerateArray());

        // Not a member: nothing to save. Deleted: it drops out. Unsaved: gone.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Http.PutAsync($"/api/v1/saved-messages/{ids[0]}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{ids[2]}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"/api/v1/saved-messages/{ids[1]}")).StatusCode);
        Assert.Equal([ids[0]], (await bob.Get("/api/v1/saved-messages")).GetProperty("items").EnumerateArray()
            .Select(s => s.GetProperty("message").GetProperty("id").GetGuid()));
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Http.GetAsync("/api/v1/saved-messages?cursor=yesterday")).StatusCode);
    }
}

public sealed class MarkUnreadTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task MarkUnread_MovesTheReadCursorBackToJustBeforeTheSeq_NeverTheDeliveredOne()
    {
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId);
        long last = 0;
        for (var i = 0; i < 5; i++)
            last = (await alice.Send(group, $"news {i}")).GetProperty("seq").GetInt64();
        await bob.Json200(await bob.Post($"/api/v1/conversations/{group}/receipts", new { read = last }));

        var marked = await bob.Json200(await bob.Post($"/api/v1/conversations/{group}/unread", new { fromSeq = last - 2 }));
        Assert.Equal((last, last - 3), (marked.GetProperty("delivered").GetInt64(), marked.GetProperty("read").GetInt64()));
        var row = (await bob.Get("/api/v1/conversations")).GetProperty("items").EnumerateArray().Single(r => r.GetProperty("id").GetGuid() == group);
        Assert.Equal(3, row.GetProperty("unreadCount").GetInt32());

        // Later than what is read already: nothing moves. Out of the log: 400. Reading again moves it forward as ever.
        var again = await bob.Json200(await bob.Post($"/api/v1/conversations/{group}/unread", new { fromSeq = last }));
        Assert.Equal(last - 3, again.GetProperty("read").GetInt64());
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Post($"/api/v1/conversations/{group}/unread", new { fromSeq = last + 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await bob.Post($"/api/v1/conversations/{group}/unread", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client().Post($"/api/v1/conversations/{group}/unread", new { fromSeq = 1 })).StatusCode);
        await bob.Json200(await bob.Post($"/api/v1/conversations/{group}/receipts", new { read = last }));
        row = (await bob.Get("/api/v1/conversations")).GetProperty("items").EnumerateArray().Single(r => r.GetProperty("id").GetGuid() == group);
        Assert.Equal(0, row.GetProperty("unreadCount").GetInt32());
    }
}

public sealed class SeqAtTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task SeqAt_ATime_IsTheLastSeqCommittedByThen()
    {
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var first = (await alice.Send(group, "one")).GetProperty("seq").GetInt64();
        // The log's times are the database's clock (the same machine's): a millisecond on either side of `between` tells
        // the two commits apart, waited for on the clock rather than slept.
        var between = ClockPassed(DateTimeOffset.UtcNow.AddMilliseconds(1));
        ClockPassed(between.AddMilliseconds(1));
        await alice.Send(group, "two");

        Assert.Equal(0, (await alice.Get($"/api/v1/conversations/{group}/seq?at={Uri.EscapeDataString(before.ToString("O"))}")).GetProperty("seq").GetInt64());
        Assert.Equal(first, (await alice.Get($"/api/v1/conversations/{group}/seq?at={Uri.EscapeDataString(between.ToString("O"))}")).GetProperty("seq").GetInt64());
        Assert.Equal(first + 1, (await alice.Get($"/api/v1/conversations/{group}/seq?at={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}")).GetProperty("seq").GetInt64());
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await alice.Http.GetAsync($"/api/v1/conversations/{group}/seq")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await host.Client().Http.GetAsync($"/api/v1/conversations/{group}/seq?at=2026-01-01T00:00:00Z")).StatusCode);
    }

    private static DateTimeOffset ClockPassed(DateTimeOffset instant)
    {
        Assert.True(SpinWait.SpinUntil(() => DateTimeOffset.UtcNow > instant, TimeSpan.FromSeconds(1)), "the clock moves");
        return instant;
    }
}

/// <summary>A database nothing has been written to yet (its own fixture).</summary>
public sealed class FreshDatabaseTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task TheInbox_OfAFreshDatabase_AnswersBeforeAnyMessageWasPosted()
    {
        var alice = host.Client();
        Assert.Empty((await alice.Get("/api/v1/conversations")).GetProperty("items").EnumerateArray());
        var group = await alice.CreateGroup(Guid.CreateVersion7());

        var rows = (await alice.Get("/api/v1/conversations")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(group, Assert.Single(rows).GetProperty("id").GetGuid());
        Assert.Equal(0, rows[0].GetProperty("unreadCount").GetInt32());
    }
}
