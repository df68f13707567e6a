using Platform.Testing;

namespace Platform.Tests;

/// <summary>A Gateway instance that starts while the broker is out of reach (a rolling update during a broker hiccup).</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class GatewayStartupTests(WholePlatform platform)
{
    [Fact]
    public async Task AGatewayReadyBeforeItReachesTheBroker_DeliversWhatWasCommittedMeanwhile_OnceItDoes()
    {
        var alice = await platform.SignUpAsync("Alice Elsewhere");
        var bob = await platform.SignUpAsync("Bob On The New Instance");
        var conversation = await platform.CreateConversationAsync(alice, "group", [bob], "rolling update");
        var conversationId = conversation.GetProperty("id").GetGuid();
        var broker = new Uri(platform.VirtualHost.ConnectionString);
        await using var proxy = new TcpProxy(new Uri($"tcp://{broker.Host}:{broker.Port}"));
        proxy.Refuse();
        // Ready while the broker is unreachable (its check is Degraded, not Unhealthy), so it takes hub connections.
        await using var gateway = await platform.StartGatewayAsync("gateway3", new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = new UriBuilder(broker) { Port = proxy.Address.Port }.Uri.ToString(),
        }, waitForBroker: false);
        await using var bobClient = await platform.ConnectAsync(bob, gateway);
        // As every client does after connecting: replay from the last seq it has, then live.
        await bobClient.InvokeAsync("Resume", conversationId, conversation.GetProperty("lastSeq").GetInt64());

        var message = await platform.SendAsync(alice, conversationId, "sent while the new instance has no queue yet");
        proxy.Restore();
        await platform.ConsumingAsync(gateway);

        // Committed before the instance's queue existed, so only the log has it: the instance must fill from the log
        // when its queue first becomes ready, as it does when the queue comes back after an outage.
        var received = await bobClient.NextAsync("event",
            e => e.GetProperty("conversationId").GetGuid() == conversationId && e.GetProperty("type").GetString() == "message.posted",
            "receives the message committed before its Gateway reached the broker");
        Assert.Equal(message.GetProperty("seq").GetInt64(), received.GetProperty("seq").GetInt64());
    }
}
