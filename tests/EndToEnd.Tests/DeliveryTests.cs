using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

public sealed class DeliveryTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    private static async Task<List<ConversationEvent>> Collect(RealtimeStream stream, Guid conversationId, int messages, TimeSpan timeout)
    {
        var received = new List<ConversationEvent>();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var e in stream.ReadEventsAsync(cancellation.Token))
            {
                if (e.ConversationId != conversationId)
                    continue;
                received.Add(e);
                if (received.Count(x => x.Type == EventTypes.MessagePosted) == messages)
                    break;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return received;
    }

    [Fact]
    public async Task Messages_ReachAMemberOnAnotherInstance_ExactlyOnceInOrder_AcrossDropsAndAGatewayRestart()
    {
        const int count = 1000;
        await using var proxy = new TcpProxy(platform.Gateway2.BaseAddress);
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(proxy.Address);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bob.Id], "resilience")).Id;
        await bob.Sdk.Realtime.StartAsync();
        var receiving = Collect(bob.Sdk.Realtime, conversation, count, TimeSpan.FromMinutes(3));

        var random = new Random(7);
        var drops = Enumerable.Range(0, 5).Select(_ => random.Next(50, count - 50)).ToHashSet();
        var restartAt = random.Next(count / 3, 2 * count / 3);
        for (var i = 0; i < count; i++)
        {
            await alice.Sdk.SendMessageAsync(conversation, $"message {i}", clientMessageId: $"m{i}");
            if (drops.Contains(i))
                proxy.DropAll();
            if (i == restartAt)
            {
                await platform.Gateway2.StopAsync();
                await platform.Gateway2.StartAsync();
            }
        }

        var received = await receiving;
        var texts = received.Where(e => e.Type == EventTypes.MessagePosted).Select(e => e.AsMessage()!.Text).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"message {i}"), texts);
        var seqs = received.Select(e => e.Seq).ToList();
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
        Assert.True(bob.Sdk.Realtime.Reconnects >= 5, $"expected at least 5 reconnects, saw {bob.Sdk.Realtime.Reconnects}");
    }

    [Fact]
    public async Task Typing_CrossesInstances_ExpiresAndIsThrottled_AndReachesOnlyMembers()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress, messagePack: true);
        var outsider = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bob.Id], "typing")).Id;
        var bobSaw = new TaskCompletionSource<TypingNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bobCount = 0;
        var outsiderSaw = 0;
        bob.Sdk.Realtime.Typing += notice => { Interlocked.Increment(ref bobCount); bobSaw.TrySetResult(notice); };
        outsider.Sdk.Realtime.Typing += _ => Interlocked.Increment(ref outsiderSaw);
        await alice.Sdk.Realtime.StartAsync();
        await bob.Sdk.Realtime.StartAsync();
        await outsider.Sdk.Realtime.StartAsync();

        var typed = DateTimeOffset.UtcNow;
        await alice.Sdk.Realtime.TypingAsync(conversation);
        await alice.Sdk.Realtime.TypingAsync(conversation);

        var notice = await bobSaw.Task.WaitAsync(TimeSpan.FromSeconds(15));
        var seen = DateTimeOffset.UtcNow;
        Assert.Equal((conversation, alice.Id), (notice.ConversationId, notice.UserId));
        // About 5 s after the Gateway took the call, however long the notice took to arrive (a loaded machine).
        Assert.InRange(notice.ExpiresAt, typed + TimeSpan.FromSeconds(4.5), seen + TimeSpan.FromSeconds(5.5));
        // A later message from Alice arrives after any typing notice could have: the second call was throttled.
        await alice.Sdk.SendMessageAsync(conversation, "after typing");
        await Collect(bob.Sdk.Realtime, conversation, 1, TimeSpan.FromSeconds(15));
        Assert.Equal(1, bobCount);
        Assert.Equal(0, outsiderSaw);
        await Assert.ThrowsAnyAsync<Exception>(() => outsider.Sdk.Realtime.TypingAsync(conversation));
    }

    [Fact]
    public async Task RemovedMember_ReceivesTheirRemovalAndNothingAfter_AndANonMemberNothing()
    {
        var owner = platform.Client(platform.Gateway1.BaseAddress);
        var member = platform.Client(platform.Gateway2.BaseAddress);
        var removed = platform.Client(platform.Gateway2.BaseAddress);
        var outsider = platform.Client(platform.Gateway1.BaseAddress);
        var conversation = (await owner.Sdk.CreateConversationAsync("group", [member.Id, removed.Id], "members")).Id;
        await member.Sdk.Realtime.StartAsync();
        await removed.Sdk.Realtime.StartAsync();
        await outsider.Sdk.Realtime.StartAsync();

        await owner.Sdk.SendMessageAsync(conversation, "before");
        await owner.Sdk.RemoveMemberAsync(conversation, removed.Id);
        await owner.Sdk.SendMessageAsync(conversation, "after");

        var memberSaw = await Collect(member.Sdk.Realtime, conversation, 2, TimeSpan.FromSeconds(20));
        Assert.Equal(["message.posted", "member.left", "message.posted"], memberSaw.Select(e => e.Type));
        var removedSaw = await Collect(removed.Sdk.Realtime, conversation, 2, TimeSpan.FromSeconds(3));
        Assert.Equal(["message.posted", "member.left"], removedSaw.Select(e => e.Type));
        var outsiderSaw = await Collect(outsider.Sdk.Realtime, conversation, 1, TimeSpan.FromSeconds(1));
        Assert.Empty(outsiderSaw);
    }

    [Fact]
    public async Task LivePushes_AreCountedWithTheirSendToDeliverLatency()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id], "metrics");
        await bob.Sdk.Realtime.StartAsync();
        // Resuming ends the hold a fresh connection puts on live events.
        await bob.Sdk.Realtime.ResumeAsync(conversation.Id, conversation.LastSeq);

        await alice.Sdk.SendMessageAsync(conversation.Id, "measured");
        await Collect(bob.Sdk.Realtime, conversation.Id, 1, TimeSpan.FromSeconds(20));

        using var http = new HttpClient { BaseAddress = platform.Gateway2.BaseAddress };
        var metrics = await Eventually.Returns(() => http.GetStringAsync("/metrics"),
            text => text.Contains("platform_gateway_send_to_deliver"), TimeSpan.FromSeconds(15), "the pushing instance exports send-to-deliver");
        Assert.Contains("platform_gateway_connections", metrics);
        Assert.Contains("platform_gateway_deliveries", metrics);
    }

    [Fact]
    public async Task NewConversation_ReachesItsMembersLive_FromItsFirstEvent()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        await bob.Sdk.Realtime.StartAsync();

        var conversation = (await alice.Sdk.CreateConversationAsync("direct", [bob.Id])).Id;
        await alice.Sdk.SendMessageAsync(conversation, "hi bob");

        var received = await Collect(bob.Sdk.Realtime, conversation, 1, TimeSpan.FromSeconds(20));
        Assert.Equal([(1L, "conversation.created"), (2L, "message.posted")], received.Select(e => (e.Seq, e.Type)));

    }
}
