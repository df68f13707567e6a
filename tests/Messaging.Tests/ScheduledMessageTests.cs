using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Messaging.Features;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>Scheduled messages: kept until their time, editable and cancellable until then, sent once through the normal send path.</summary>
public sealed class ScheduledMessageTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private Task<int> SendDue(ServiceFactory<Program>? factory = null) =>
        (factory ?? host.Factory).Services.GetRequiredService<ScheduledMessageSender>().SendDueAsync(CancellationToken.None);

    // A pass of this test's own, then until the author's due messages are done (the instance's timer, moved by the clock,
    // may hold some of them meanwhile).
    private async Task SendDue(ChatClient author, Guid conversation)
    {
        await SendDue();
        var now = host.Clock.GetUtcNow();
        await Eventually.Returns(async () => (await author.Get($"/api/v1/conversations/{conversation}/scheduled-messages")).GetProperty("items").EnumerateArray()
                .Count(m => m.GetProperty("state").GetString() == "pending" && m.GetProperty("sendAt").GetDateTimeOffset() <= now),
            due => due == 0, TimeSpan.FromSeconds(30), "the due scheduled messages are sent");
    }

    private static Task<HttpResponseMessage> Schedule(ChatClient client, Guid conversation, string text, DateTimeOffset sendAt, string? clientMessageId = null) =>
        client.Post($"/api/v1/conversations/{conversation}/scheduled-messages", new { clientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N"), text, sendAt });

    private static async Task<List<JsonElement>> Messages(ChatClient client, Guid conversation) =>
        (await client.Get($"/api/v1/conversations/{conversation}/messages?limit=1000")).GetProperty("items").EnumerateArray().ToList();

    [Fact]
    public async Task AScheduledMessage_IsListedForItsAuthor_EditableUntilDue_ThenSentOnceAtItsTime()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var sendAt = host.Clock.GetUtcNow().AddHours(1);
        var created = await owner.Json200(await Schedule(owner, group, "good morning", sendAt, "sched-1"));
        var id = created.GetProperty("id").GetGuid();
        Assert.Equal(sendAt, created.GetProperty("sendAt").GetDateTimeOffset());
        // A retry of the same request answers the same scheduled message.
        Assert.Equal(id, (await owner.Json200(await Schedule(owner, group, "good morning", sendAt, "sched-1"))).GetProperty("id").GetGuid());

        var listed = (await owner.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray().Single();
        Assert.Equal((id, "pending"), (listed.GetProperty("id").GetGuid(), listed.GetProperty("state").GetString()));
        Assert.Empty((await member.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await member.Patch($"/api/v1/conversations/{group}/scheduled-messages/{id}", new { text = "hijack" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await member.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{id}")).StatusCode);

        var later = sendAt.AddMinutes(30);
        var edited = await owner.Json200(await owner.Patch($"/api/v1/conversations/{group}/scheduled-messages/{id}", new { text = "good morning, all", sendAt = later }));
        Assert.Equal(("good morning, all", later), (edited.GetProperty("text").GetString(), edited.GetProperty("sendAt").GetDateTimeOffset()));

        host.Clock.Advance(TimeSpan.FromHours(1));
        await SendDue(owner, group);
        Assert.DoesNotContain(await Messages(member, group), m => m.GetProperty("text").GetString() == "good morning, all");

        host.Clock.Advance(TimeSpan.FromMinutes(31));
        await SendDue(owner, group);
        var sent = (await Messages(member, group)).Where(m => m.GetProperty("text").GetString() == "good morning, all").ToList();
        Assert.Equal(owner.UserId, Assert.Single(sent).GetProperty("senderId").GetGuid());
        Assert.Equal("sched-1", sent[0].GetProperty("clientMessageId").GetString());
        Assert.Empty((await owner.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.Conflict, (await owner.Patch($"/api/v1/conversations/{group}/scheduled-messages/{id}", new { text = "too late" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{id}")).StatusCode);
        await SendDue();
        Assert.Single(await Messages(member, group), m => m.GetProperty("text").GetString() == "good morning, all");
    }

    /// <summary>
    /// The sender posts a due message, then records it sent in a transaction of its own; a list read in between must not
    /// show it still waiting (a client that saw the message arrive and lists again). Here the post is made alone, with the
    /// scheduled message's client id, as the sender's first step; its pass then records it sent and posts nothing more.
    /// </summary>
    [Fact]
    public async Task AScheduledMessageAlreadyPosted_IsNotListed_EvenBeforeTheSenderRecordsItSent()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var scheduled = (await owner.Json200(await Schedule(owner, group, "at nine", host.Clock.GetUtcNow().AddMinutes(5), "nine-1"))).GetProperty("id").GetGuid();
        var other = (await owner.Json200(await Schedule(owner, group, "at ten", host.Clock.GetUtcNow().AddMinutes(65), "ten-1"))).GetProperty("id").GetGuid();

        await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "nine-1", text = "at nine" }));

        var listed = (await owner.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("id").GetGuid()).ToList();
        Assert.DoesNotContain(scheduled, listed);
        Assert.Equal([other], listed);
        host.Clock.Advance(TimeSpan.FromMinutes(6));
        await SendDue(owner, group);
        Assert.Single(await Messages(member, group), m => m.GetProperty("text").GetString() == "at nine");
        Assert.Equal([other], (await owner.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task ACancelledMessage_IsNeverSent_AndBadRequestsAndNonMembersAreRefused()
    {
        var owner = host.Client();
        var group = await owner.CreateGroup(Guid.CreateVersion7());
        var now = host.Clock.GetUtcNow();
        var id = (await owner.Json200(await Schedule(owner, group, "never mind", now.AddMinutes(5)))).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{id}")).StatusCode);
        host.Clock.Advance(TimeSpan.FromMinutes(10));
        await SendDue(owner, group);
        Assert.DoesNotContain(await Messages(owner, group), m => m.GetProperty("text").GetString() == "never mind");

        now = host.Clock.GetUtcNow();
        Assert.Equal(HttpStatusCode.BadRequest, (await Schedule(owner, group, "past", now.AddMinutes(-1))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Schedule(owner, group, "far", now.AddDays(400))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Schedule(owner, group, " ", now.AddMinutes(5))).StatusCode);
        var noTime = await owner.Post($"/api/v1/conversations/{group}/scheduled-messages", new { clientMessageId = "x", text = "when?" });
        Assert.Equal(HttpStatusCode.BadRequest, noTime.StatusCode);
        Assert.Equal("application/problem+json", noTime.Content.Headers.ContentType?.MediaType);
        var pending = (await owner.Json200(await Schedule(owner, group, "soon", now.AddMinutes(5)))).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Patch($"/api/v1/conversations/{group}/scheduled-messages/{pending}", new { sendAt = now.AddMinutes(-5) })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.Patch($"/api/v1/conversations/{group}/scheduled-messages/{pending}", new { })).StatusCode);

        var stranger = host.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await Schedule(stranger, group, "hello", now.AddMinutes(5))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.GetAsync($"/api/v1/conversations/{group}/scheduled-messages")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{pending}")).StatusCode);
    }

    [Fact]
    public async Task AScheduledMessage_WhoseAuthorCanNoLongerPost_IsMarkedFailed_AndCanBeDismissed()
    {
        var owner = host.Client();
        var member = host.Client();
        var group = await owner.CreateGroup(member.UserId);
        var id = (await member.Json200(await Schedule(member, group, "see you", host.Clock.GetUtcNow().AddMinutes(10)))).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/members/{member.UserId}")).StatusCode);
        host.Clock.Advance(TimeSpan.FromMinutes(11));
        await SendDue(member, group);

        Assert.DoesNotContain(await Messages(owner, group), m => m.GetProperty("text").GetString() == "see you");
        var failed = (await member.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray().Single();
        Assert.Equal((id, "failed"), (failed.GetProperty("id").GetGuid(), failed.GetProperty("state").GetString()));
        Assert.False(string.IsNullOrEmpty(failed.GetProperty("error").GetString()));
        Assert.Equal(HttpStatusCode.NoContent, (await member.Http.DeleteAsync($"/api/v1/conversations/{group}/scheduled-messages/{id}")).StatusCode);
        Assert.Empty((await member.Get($"/api/v1/conversations/{group}/scheduled-messages")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task TwoMessagingInstancesOnOneDatabase_SendEachScheduledMessageExactlyOnce()
    {
        await using var second = new ServiceFactory<Program>(host.Infrastructure)
            .WithSetting("Auth:MetadataAddress", host.Issuer.Url)
            .WithServices(services => services.AddSingleton<TimeProvider>(host.Clock));
        using (var probe = second.CreateClient())
            await Readiness.WaitUntilConsumingAsync(probe, "Messaging");

        var owner = host.Client();
        var conversations = new List<Guid>();
        for (var c = 0; c < 3; c++)
            conversations.Add(await owner.CreateGroup(Guid.CreateVersion7()));
        var due = host.Clock.GetUtcNow().AddMinutes(1);
        var expected = new List<(Guid Conversation, string Text)>();
        for (var i = 0; i < 60; i++)
        {
            var conversation = conversations[i % 3];
            var text = $"scheduled {i}";
            await owner.Json200(await Schedule(owner, conversation, text, due.AddMilliseconds(i)));
            expected.Add((conversation, text));
        }
        host.Clock.Advance(TimeSpan.FromMinutes(2));

        // Both instances, several passes each at once (their timers may run too).
        var passes = Enumerable.Range(0, 8).Select(i => Task.Run(() => SendDue(i % 2 == 0 ? host.Factory : second))).ToList();
        await Task.WhenAll(passes);
        foreach (var conversation in conversations)
            await SendDue(owner, conversation);

        foreach (var conversation in conversations)
        {
            var texts = (await Messages(owner, conversation)).Select(m => m.GetProperty("text").GetString()).Where(t => t!.StartsWith("scheduled ")).ToList();
            Assert.Equal(expected.Where(e => e.Conversation == conversation).Select(e => e.Text).Order(), texts.Order());
        }
        foreach (var conversation in conversations)
            Assert.Empty((await owner.Get($"/api/v1/conversations/{conversation}/scheduled-messages")).GetProperty("items").EnumerateArray());
    }
}
