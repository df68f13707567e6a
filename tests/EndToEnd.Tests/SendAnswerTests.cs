using System.Collections.Concurrent;
using Platform.Client;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// Delivery from a send's answer (the Gateway's <c>Realtime:DeliverFromSendAnswer</c>): members connected to the
/// instance that forwarded a send get its message from Messaging's answer, ahead of the bus, and still every event
/// exactly once and in seq order together with what only the bus brings. Its own platform: the test cuts the bus off
/// from both Gateways for a while.
/// </summary>
public sealed class SendAnswerTests(RealtimePlatform platform) : IClassFixture<RealtimePlatform>
{
    // The fanout exchange every conversation event is published to, and the topic exchange that consumers subscribing
    // by type bind (Platform.ServiceDefaults' ConversationEventRouting).
    private static readonly string EventExchange = $"{typeof(Contracts.Messaging.ConversationEvent).Namespace}:{nameof(Contracts.Messaging.ConversationEvent)}";
    private const string ByTypeExchange = "platform.conversation-events.by-type";

    private static ConcurrentQueue<ConversationEvent> Receive(RealtimeStream stream, Guid conversationId, CancellationToken cancellationToken)
    {
        var received = new ConcurrentQueue<ConversationEvent>();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in stream.ReadEventsAsync(cancellationToken))
                    if (e.ConversationId == conversationId)
                        received.Enqueue(e);
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
        return received;
    }

    private static Task Reaches(ConcurrentQueue<ConversationEvent> received, long seq, string because) =>
        Eventually.Returns(() => Task.FromResult(received.ToArray()), events => events.Any(e => e.Seq >= seq), TimeSpan.FromSeconds(20), because);

    [Fact]
    public async Task ASend_ReachesMembersOnTheSendersInstance_FromItsAnswer_InOrderWithWhatOnlyTheBusBrings()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var bob = platform.Client(platform.Gateway1.BaseAddress);
        var carol = platform.Client(platform.Gateway2.BaseAddress);
        var conversation = await alice.Sdk.CreateConversationAsync("group", [bob.Id, carol.Id], "ahead of the bus");
        using var stop = new CancellationTokenSource();
        var bobGot = Receive(bob.Sdk.Realtime, conversation.Id, stop.Token);
        var carolGot = Receive(carol.Sdk.Realtime, conversation.Id, stop.Token);
        await bob.Sdk.Realtime.StartAsync();
        await carol.Sdk.Realtime.StartAsync();
        // Resuming ends the hold a fresh connection puts on live events.
        await bob.Sdk.Realtime.ResumeAsync(conversation.Id, conversation.LastSeq);
        await carol.Sdk.Realtime.ResumeAsync(conversation.Id, conversation.LastSeq);

        Message one, two;
        await using (await platform.Infrastructure.VirtualHost.CutBindingsAsync(EventExchange, destination => destination != ByTypeExchange))
        {
            // Nothing published now reaches either Gateway: bob, on the sender's instance, has it from the answer alone.
            one = await alice.Sdk.SendMessageAsync(conversation.Id, "one");
            await Reaches(bobGot, one.Seq, "bob has the message from the send's answer while the bus brings the Gateways nothing");

            // A reaction is no send: only the bus brings it, and now it does not. The next message must wait behind it.
            await alice.Sdk.AddReactionAsync(conversation.Id, one.Id, "👍");
            two = await alice.Sdk.SendMessageAsync(conversation.Id, "two");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.DoesNotContain(bobGot, e => e.Seq > one.Seq);
            Assert.Empty(carolGot);
        }

        // The bus is back: its next event shows each Gateway what it missed, read from the log, in order.
        var three = await alice.Sdk.SendMessageAsync(conversation.Id, "three");
        await Reaches(bobGot, three.Seq, "bob has everything once the bus brings an event again");
        await Reaches(carolGot, three.Seq, "carol, on the other instance, has everything from the bus and the log");
        stop.Cancel();

        foreach (var received in new[] { bobGot.ToArray(), carolGot.ToArray() })
        {
            Assert.Equal([one.Seq, one.Seq + 1, two.Seq, three.Seq], received.Select(e => e.Seq));
            Assert.Equal(["message.posted", "reaction.added", "message.posted", "message.posted"], received.Select(e => e.Type));
            Assert.Equal(["one", "two", "three"], received.Where(e => e.Type == EventTypes.MessagePosted).Select(e => e.AsMessage()!.Text));
        }

        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
        var metrics = await Eventually.Returns(() => http.GetStringAsync("/metrics"),
            text => text.Contains("path=\"answer\""), TimeSpan.FromSeconds(15), "the sender's instance counts what the answers let through");
        Assert.Contains("platform_gateway_deliveries", metrics);
    }
}
