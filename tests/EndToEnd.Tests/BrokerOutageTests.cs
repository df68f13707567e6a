using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>The realtime platform with every service's broker connection through a proxy a test can cut.</summary>
public sealed class BrokerOutagePlatform : RealtimePlatform
{
    public TcpProxy Broker { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await Infrastructure.InitializeAsync();
        (Broker, var rabbitMq) = ProxyBroker();
        await StartAsync(Infrastructure.Database.ConnectionString, rabbitMq);
    }
}

public sealed class BrokerOutageTests(BrokerOutagePlatform platform) : IClassFixture<BrokerOutagePlatform>
{
    /// <summary>
    /// While RabbitMQ cannot be reached, what is published on a request's path without an outbox gives up within a
    /// bound instead of waiting for the broker: a <c>Typing</c> call answers in seconds (the notice is dropped), so the
    /// connection's next call (its calls run one at a time) is answered at once; following a thread answers 204 (the
    /// follow is stored with the change to tell Notifications, which Messaging's relay publishes once the broker is back).
    /// Before, each waited for as long as the outage lasted.
    /// </summary>
    [Fact]
    public async Task WhileTheBrokerIsUnreachable_TypingAndFollowingAnswerPromptly_AndTheConnectionKeepsServingItsCalls()
    {
        var alice = platform.Client(platform.Gateway1.BaseAddress);
        var conversation = (await alice.Sdk.CreateConversationAsync("group", [Guid.CreateVersion7()], "outage")).Id;
        var root = await alice.Sdk.SendMessageAsync(conversation, "a thread to follow");
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(platform.Gateway1.BaseAddress, "hubs/chat"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(platform.Issuer.CreateToken(alice.Id)))
            .Build();
        await hub.StartAsync();
        await Eventually.Returns(() => hub.InvokeAsync<JsonElement>("Positions"), positions => positions.GetRawText().Contains(conversation.ToString(), StringComparison.Ordinal),
            TimeSpan.FromSeconds(15), "the connection receives the conversation");
        // Notifications' side of the bus, reached directly (not through the proxy the test cuts).
        await using var notifications = await BusProbe<ThreadFollowChanged>.StartAsync(platform.Infrastructure.VirtualHost.ConnectionString);

        platform.Broker.Refuse();
        try
        {
            using var health = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
            await Eventually.Returns(() => health.GetStringAsync("/health/ready"), body => !body.Contains("\"rabbitmq\":{\"status\":\"Healthy\"", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), "the Gateway sees the broker gone");

            var typing = Stopwatch.StartNew();
            await hub.InvokeAsync("Typing", conversation).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(typing.Elapsed < TimeSpan.FromSeconds(10), $"Typing took {typing.Elapsed}");
            var positions = Stopwatch.StartNew();
            await hub.InvokeAsync<JsonElement>("Positions").WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(positions.Elapsed < TimeSpan.FromSeconds(2), $"the next call took {positions.Elapsed}");

            var follow = Stopwatch.StartNew();
            await alice.Sdk.FollowThreadAsync(conversation, root.Id).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(follow.Elapsed < TimeSpan.FromSeconds(10), $"following took {follow.Elapsed}");
        }
        finally
        {
            platform.Broker.Restore();
        }

        // The follow was stored with the change to tell: once the broker is back, Messaging's relay publishes it.
        var told = await notifications.NextAsync(TimeSpan.FromSeconds(60));
        Assert.Equal((conversation, root.Id, alice.Id, true), (told.ConversationId, told.RootId, told.UserId, told.Following));
    }
}
