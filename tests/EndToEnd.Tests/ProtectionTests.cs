using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Platform.Client;

namespace Platform.EndToEnd.Tests;

/// <summary>Gateways with small limits, so the protections can be seen.</summary>
public sealed class LimitedPlatform : RealtimePlatform
{
    protected override IReadOnlyDictionary<string, string?> GatewaySettings => new Dictionary<string, string?>
    {
        ["Realtime:SendQueueLimit"] = "50",
        ["Realtime:MaxConnectionsPerUser"] = "2",
        ["Realtime:CallsPerSecond"] = "5",
        ["Realtime:MaximumReceiveMessageSize"] = "4096",
        ["Realtime:AllowedOrigins:0"] = "https://app.example.com",
    };
}

public sealed class ProtectionTests(LimitedPlatform platform) : IClassFixture<LimitedPlatform>
{
    private HubConnection Hub(Guid user) => new HubConnectionBuilder()
        .WithUrl(new Uri(platform.Gateway1.BaseAddress, "hubs/chat"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(platform.Issuer.CreateToken(user)))
        .Build();

    private static Task<Exception?> ClosedAsync(HubConnection hub)
    {
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.Closed += error => { closed.TrySetResult(error); return Task.CompletedTask; };
        return closed.Task;
    }

    [Fact]
    public async Task Hub_WithoutAToken_Returns401()
    {
        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };

        var response = await http.PostAsync("hubs/chat/negotiate?negotiateVersion=1", null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Hub_FromAnOriginNotAllowed_Returns403_AndAnAllowedOriginPasses()
    {
        using var http = new HttpClient { BaseAddress = platform.Gateway1.BaseAddress };
        HttpRequestMessage Negotiate(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "hubs/chat/negotiate?negotiateVersion=1");
            request.Headers.Add("Origin", origin);
            request.Headers.Authorization = new("Bearer", platform.Issuer.CreateToken(Guid.CreateVersion7()));
            return request;
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(Negotiate("https://evil.example.com"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Negotiate("https://app.example.com"))).StatusCode);
    }

    [Fact]
    public async Task ConnectionsBeyondThePerUserLimit_AreClosedWithAReason()
    {
        var user = Guid.CreateVersion7();
        await using var first = Hub(user);
        await using var second = Hub(user);
        await using var third = Hub(user);
        await first.StartAsync();
        await second.StartAsync();
        // The handshake is answered before the hub registers the connection; a first call is answered after it.
        await first.InvokeAsync<object>("Positions");
        await second.InvokeAsync<object>("Positions");
        var closed = ClosedAsync(third);

        // The refusal comes right after the handshake: the start either fails with it or the connection closes with it.
        Exception? refused = null;
        try
        {
            await third.StartAsync();
        }
        catch (Exception exception)
        {
            refused = exception;
        }

        var error = refused?.Message.Contains("Too many connections") == true ? refused : await closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("Too many connections", error?.Message);
        Assert.NotEqual(HubConnectionState.Connected, third.State);
        Assert.Equal(HubConnectionState.Connected, first.State);
    }

    [Fact]
    public async Task CallsBeyondTheRate_FailWithAnError_AndTheConnectionStays()
    {
        var owner = platform.Client(platform.Gateway1.BaseAddress);
        var conversation = (await owner.Sdk.CreateConversationAsync("group", [Guid.CreateVersion7()], "rates")).Id;
        await using var hub = Hub(owner.Id);
        await hub.StartAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            try
            {
                await hub.InvokeAsync("Typing", conversation);
                return "ok";
            }
            catch (HubException exception)
            {
                return exception.Message;
            }
        }));

        Assert.Contains(outcomes, o => o == "ok");
        Assert.Contains(outcomes, o => o.Contains("Rate limit"));
        Assert.Equal(HubConnectionState.Connected, hub.State);

        // The connection's bucket refills with time (no timer per connection: when it calls): a second later it may call again.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        for (var i = 0; i < 3; i++)
            await hub.InvokeAsync("Typing", conversation);
    }

    [Fact]
    public async Task AMessageOverTheSizeLimit_ClosesThatConnection()
    {
        await using var hub = Hub(Guid.CreateVersion7());
        await hub.StartAsync();
        var closed = ClosedAsync(hub);

        _ = hub.SendAsync("Ack", Guid.NewGuid(), 1L, new string('x', 10_000));

        Assert.NotNull(await closed.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AClientThatDoesNotRead_IsDisconnected_WhileOthersReceiveEverything()
    {
        const int count = 1500;
        var sender = platform.Client(platform.Gateway1.BaseAddress);
        var reader = platform.Client(platform.Gateway1.BaseAddress);
        var slowUser = Guid.CreateVersion7();
        var conversation = (await sender.Sdk.CreateConversationAsync("group", [reader.Id, slowUser], "slow")).Id;
        await reader.Sdk.Realtime.StartAsync();
        using var slow = new ClientWebSocket();
        slow.Options.SetRequestHeader("Authorization", "Bearer " + platform.Issuer.CreateToken(slowUser));
        // A tiny receive window, so the server's writes back up (instead of filling kernel buffers) once the client stops reading.
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        await slow.ConnectAsync(new Uri($"ws://{platform.Gateway1.BaseAddress.Authority}/hubs/chat"), new HttpMessageInvoker(handler), CancellationToken.None);
        await slow.SendAsync(Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e"), WebSocketMessageType.Text, true, CancellationToken.None);

        var text = new string('x', 3900);
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
                await sender.Sdk.SendMessageAsync(conversation, $"{i} {text}");
        });
        var received = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await foreach (var e in reader.Sdk.Realtime.ReadEventsAsync(timeout.Token))
            if (e.ConversationId == conversation && e.Type == EventTypes.MessagePosted && received.Count < count)
            {
                received.Add(e.Seq);
                if (received.Count == count)
                    break;
            }
        await sending;

        Assert.Equal(count, received.Count);
        Assert.Equal(received.Order(), received);
        // Now read what the slow client was sent: a close with the reason, then the end.
        var everything = new StringBuilder();
        var buffer = new byte[64 * 1024];
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (slow.State == WebSocketState.Open)
            {
                var result = await slow.ReceiveAsync(buffer, reading.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
                everything.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
        }
        catch (WebSocketException)
        {
        }
        var messages = everything.ToString();
        Assert.True(messages.Split("\"message.posted\"").Length - 1 < count, "the slow client was not disconnected");
        Assert.True(slow.State != WebSocketState.Open, "the slow client's connection is still open");
    }
}
