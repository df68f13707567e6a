using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Platform.Client;

namespace Platform.EndToEnd.Tests;

/// <summary>The hub as a plain SignalR client (not our SDK) sees it: method names, envelope, Resume, Ack.</summary>
public sealed class HubContractTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    [Fact]
    public async Task Resume_ReplaysAfterTheSeq_ThenContinuesLive_WithoutGapOrDuplicate()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bobId = Guid.CreateVersion7();
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bobId], "resume")).Id;
        for (var i = 0; i < 30; i++)
            await alice.Sdk.SendMessageAsync(conversation, $"before {i}");

        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(platform.Gateway2.BaseAddress, "hubs/chat"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(platform.Issuer.CreateToken(bobId)))
            .Build();
        var seqs = new List<long>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<JsonElement>("event", envelope =>
        {
            lock (seqs)
            {
                Assert.Equal(conversation, envelope.GetProperty("conversationId").GetGuid());
                Assert.True(envelope.TryGetProperty("occurredAt", out _) && envelope.TryGetProperty("actorId", out _) && envelope.TryGetProperty("data", out _));
                seqs.Add(envelope.GetProperty("seq").GetInt64());
                if (seqs.Count == 51 - 10)
                    all.TrySetResult();
            }
        });
        await hub.StartAsync();

        // Live messages keep coming while the replay of everything after seq 10 runs.
        var live = Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
                await alice.Sdk.SendMessageAsync(conversation, $"during {i}");
        });
        await hub.InvokeAsync("Resume", conversation, 10L);
        await live;
        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));

        lock (seqs)
            Assert.Equal(Enumerable.Range(11, 41).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task Ack_FromTheStream_MovesTheDeliveredReceipt_ToldToTheSenderOnly()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway2.BaseAddress);
        var carol = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [bob.Id, carol.Id], "acks")).Id;
        await bob.Sdk.Realtime.StartAsync();
        // Alice and Carol listen before the send: receipts are pushed live, not replayed.
        var receipt = new TaskCompletionSource<ReceiptNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        long sent = long.MaxValue;
        alice.Sdk.Realtime.Receipt += notice => { if (notice.UserId == bob.Id && notice.Delivered >= Interlocked.Read(ref sent)) receipt.TrySetResult(notice); };
        var toCarol = new List<ReceiptNotice>();
        carol.Sdk.Realtime.Receipt += notice => { lock (toCarol) toCarol.Add(notice); };
        await alice.Sdk.Realtime.StartAsync();
        await carol.Sdk.Realtime.StartAsync();

        var message = await alice.Sdk.SendMessageAsync(conversation, "did you get this?");
        Interlocked.Exchange(ref sent, message.Seq);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await foreach (var e in bob.Sdk.Realtime.ReadEventsAsync(timeout.Token))
            if (e.Seq == message.Seq)
                break;

        Assert.Equal(conversation, (await receipt.Task.WaitAsync(TimeSpan.FromSeconds(15))).ConversationId);
        // Bob's delivered cursor concerns the sender of what it covers: Carol, a member who sent nothing, is not told
        // (she gets it with the same flush if at all; a second more is plenty).
        await Task.Delay(TimeSpan.FromSeconds(1));
        lock (toCarol)
            Assert.DoesNotContain(toCarol, notice => notice.UserId == bob.Id);
    }
}
