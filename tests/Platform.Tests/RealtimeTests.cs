using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Tests;

/// <summary>The hub as web frontends use it (the official JavaScript client), with the two members on different Gateways.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class RealtimeTests(WholePlatform platform)
{
    [Fact]
    public async Task AcrossTwoGateways_PresenceTypingAndReadReceipts_ReachTheOtherMember()
    {
        var alice = await platform.SignUpAsync("Alice On One");
        var bob = await platform.SignUpAsync("Bob On Two", platform.Gateway2);
        var conversationId = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        var message = await platform.SendAsync(alice, conversationId, "are you there?");
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);

        // Presence learns from the Gateways' connection events and Messaging's membership events, over the bus.
        await platform.EventuallyAsync(() => bobClient.InvokeAsync("WatchPresence", (object)new[] { alice.Id.ToString() }),
            now => now[0].GetProperty("status").GetString() == "online", "Bob sees Alice online", platform.Presence, platform.Gateway1);

        await aliceClient.InvokeAsync("Typing", conversationId);
        var typing = await bobClient.NextAsync("typing", t => t.GetProperty("conversationId").GetGuid() == conversationId, "is told Alice is typing");
        Assert.Equal(alice.Id, typing.GetProperty("userId").GetGuid());

        var seq = message.GetProperty("seq").GetInt64();
        await platform.ReadAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{conversationId}/receipts", new { read = seq }),
            HttpStatusCode.OK, "Bob's read receipt", platform.Messaging);
        // Bob's accepting the request told his cursors as they stood then (read before the message); that receipt can
        // reach Alice after she connects, so the one awaited is the receipt of this read.
        await aliceClient.NextAsync("receipt",
            r => r.GetProperty("conversationId").GetGuid() == conversationId && r.GetProperty("userId").GetGuid() == bob.Id
                && r.GetProperty("read").ValueKind == JsonValueKind.Number && r.GetProperty("read").GetInt64() == seq, $"is told Bob has read up to {seq}");
    }

    [Fact]
    public async Task AGatewayStopping_PublishesTheDeliveredReceiptsItGathered_SoTheSenderIsTold()
    {
        // A third Gateway that gathers delivered receipts for a minute: only its stop can send Bob's in time.
        await using var stopping = await platform.StartGatewayAsync("gateway-stopping", new Dictionary<string, string?> { ["Realtime:AckBatchInterval"] = "00:01:00" });
        var alice = await platform.SignUpAsync("Alice Waits For Delivered");
        var bob = await platform.SignUpAsync("Bob On A Stopping Gateway");
        var conversationId = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, stopping);
        // The hub answers the handshake before it has read the connection's conversations; a message committed in between
        // reaches a client through its Resume (as the SDK does). This test waits instead, so the message comes live.
        await platform.EventuallyAsync(() => bobClient.InvokeAsync("Positions"), positions => positions.GetRawText().Contains(conversationId.ToString(), StringComparison.Ordinal),
            "Bob's connection receives the conversation", stopping);

        var seq = (await platform.SendAsync(alice, conversationId, "did it reach your phone?")).GetProperty("seq").GetInt64();
        await bobClient.NextAsync("event", e => e.GetProperty("conversationId").GetGuid() == conversationId && e.GetProperty("seq").GetInt64() == seq,
            "Bob's device receives the message");
        await bobClient.InvokeAsync("Ack", conversationId, seq);
        // Gathered, not yet sent: nothing reaches Alice while Bob's Gateway runs.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(aliceClient.Calls("receipt"), r => r.GetProperty("userId").GetGuid() == bob.Id && r.GetProperty("delivered").ValueKind == JsonValueKind.Number
            && r.GetProperty("delivered").GetInt64() >= seq);

        // A rollout stops it (SIGTERM): what it gathered goes out before it exits.
        await stopping.StopAsync();
        await aliceClient.NextAsync("receipt", r => r.GetProperty("conversationId").GetGuid() == conversationId && r.GetProperty("userId").GetGuid() == bob.Id
            && r.GetProperty("delivered").ValueKind == JsonValueKind.Number && r.GetProperty("delivered").GetInt64() == seq, $"is told Bob's device has seq {seq}");
    }

    [Fact]
    public async Task SendingAMessage_MovesTheSendersLastActiveTime_AsTheOtherMemberSeesIt()
    {
        // Alice never connects to the hub: only her send, reported by her Gateway to Presence, makes her active.
        var alice = await platform.SignUpAsync("Alice Active By Sending");
        var bob = await platform.SignUpAsync("Bob Sees Her Active", platform.Gateway2);
        var conversationId = (await platform.CreateConversationAsync(alice, "direct", [bob])).GetProperty("id").GetGuid();
        async Task<JsonElement> AlicesPresence() => (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/presence?userIds={alice.Id}"),
            HttpStatusCode.OK, "Bob asks for Alice's presence", platform.Presence)).GetProperty("items")[0];
        Assert.Equal(JsonValueKind.Null, (await AlicesPresence()).GetProperty("lastActiveAt").ValueKind);

        var before = DateTimeOffset.UtcNow;
        await platform.SendAsync(alice, conversationId, "am I active?");

        var seen = await platform.EventuallyAsync(AlicesPresence, p => p.GetProperty("lastActiveAt").ValueKind == JsonValueKind.String,
            "Bob sees Alice's last-active time", platform.Presence, platform.Gateway1);
        Assert.InRange(seen.GetProperty("lastActiveAt").GetDateTimeOffset(), before.AddSeconds(-1), DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task AMembersJsClient_ReceivesEveryEventOnceInSeqOrder_WhileAnotherUserSends100Messages()
    {
        var alice = await platform.SignUpAsync("Alice Sends");
        var bob = await platform.SignUpAsync("Bob Receives", platform.Gateway2);
        var conversationId = (await platform.CreateConversationAsync(alice, "group", [bob], "busy")).GetProperty("id").GetGuid();
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        await bobClient.InvokeAsync("Resume", conversationId, 0);

        var sent = new List<Guid>();
        for (var i = 0; i < 100; i++)
            sent.Add((await platform.SendAsync(alice, conversationId, $"message {i}")).GetProperty("id").GetGuid());
        var lastSeq = 1 + sent.Count;

        await bobClient.NextAsync("event", e => e.GetProperty("conversationId").GetGuid() == conversationId && e.GetProperty("seq").GetInt64() == lastSeq,
            $"receives seq {lastSeq}, the last message");
        var events = bobClient.Calls("event").Where(e => e.GetProperty("conversationId").GetGuid() == conversationId).ToList();
        Assert.Equal(Enumerable.Range(1, lastSeq).Select(seq => (long)seq), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal("conversation.created", events[0].GetProperty("type").GetString());
        Assert.Equal(sent, events.Skip(1).Select(e => e.GetProperty("data").GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task InAChannel_AReadReceiptReachesOnlyTheReadersOwnDevices()
    {
        var alice = await platform.SignUpAsync("Alice Posts In Channels");
        var bob = await platform.SignUpAsync("Bob Reads The Channel");
        var channel = (await platform.CreateConversationAsync(alice, "channel", [bob], "announcements")).GetProperty("id").GetGuid();
        var seq = (await platform.SendAsync(alice, channel, "welcome")).GetProperty("seq").GetInt64();
        await using var bobLaptop = await platform.ConnectAsync(bob, platform.Gateway1);
        await using var bobPhone = await platform.ConnectAsync(bob, platform.Gateway2);
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);

        await platform.ReadAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{channel}/receipts", new { read = seq }),
            HttpStatusCode.OK, "Bob's read receipt", platform.Messaging);

        // Bob's other device learns it (to clear its unread badge); Alice, on the same Gateway as Bob's laptop, does not.
        await bobPhone.NextAsync("receipt", r => r.GetProperty("conversationId").GetGuid() == channel, "Bob's phone is told he has read");
        await bobLaptop.NextAsync("receipt", r => r.GetProperty("conversationId").GetGuid() == channel, "Bob's laptop is told he has read");
        Assert.DoesNotContain(aliceClient.Calls("receipt"), r => r.GetProperty("conversationId").GetGuid() == channel);
    }
}
