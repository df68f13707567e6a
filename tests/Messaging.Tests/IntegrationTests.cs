using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Platform.Messaging.Domain;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>Messaging with a local bot that records the commands it receives, and a loopback port where nothing listens.</summary>
public sealed class IntegrationsHost : MessagingHost
{
    public Uri Bot { get; private set; } = null!;

    /// <summary>A loopback port allowed for commands where nothing answers: a bot that is down.</summary>
    public int DeadPort { get; private set; }

    public Channel<(string Signature, string Body)> Commands { get; } = Channel.CreateUnbounded<(string, string)>();

    protected override async Task StartingAsync()
    {
        WebApplication bot;
        (bot, Bot) = await LoopbackServer.StartAsync(app => app.MapPost("/commands", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            await Commands.Writer.WriteAsync((request.Headers["Platform-Signature"].ToString(), await reader.ReadToEndAsync()));
            return Results.Ok();
        }));
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            DeadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        Own(bot);
    }

    // Deviation: commands never go to loopback addresses; this test's bot (and its dead port) are the exceptions.
    protected override void Configure(ServiceFactory<Program> factory) => base.Configure(factory
        .WithSetting("BotCommands:AllowedEndpoints:0", $"127.0.0.1:{Bot.Port}")
        .WithSetting("BotCommands:AllowedEndpoints:1", $"127.0.0.1:{DeadPort}")
        .WithSetting("BotCommands:Timeout", "00:00:02"));

    /// <summary>What Identity's UserRegistered (IsBot) would leave in Messaging's directory.</summary>
    public async Task KnowAsBotAsync(Guid botId, string username)
    {
        await using var session = Factory.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        session.Store(new UserDirectoryEntry { Id = botId, Username = username, DisplayName = username, IsBot = true });
        await session.SaveChangesAsync();
    }
}

public sealed class IntegrationTests(IntegrationsHost host) : IClassFixture<IntegrationsHost>
{
    private static async Task AssertStatus(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        if ((int)expected >= 400)
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<List<JsonElement>> MessagesAsync(ChatClient reader, Guid conversationId) =>
        (await reader.Get($"/api/v1/conversations/{conversationId}/messages")).GetProperty("items").EnumerateArray().ToList();

    [Fact]
    public async Task IncomingWebhook_PostsAsItsIdentity_OnlyOwnersAndAdminsManageIt_AndADeletedOneStopsAtOnce()
    {
        var owner = host.Client();
        var member = host.Client();
        var stranger = host.Client();
        var group = await owner.CreateGroup(member.UserId);

        await AssertStatus(await member.Post($"/api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }), HttpStatusCode.Forbidden);
        await AssertStatus(await stranger.Post($"/api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }), HttpStatusCode.NotFound);
        await AssertStatus(await stranger.Http.GetAsync($"/api/v1/conversations/{group}/incoming-webhooks"), HttpStatusCode.NotFound);
        var created = await owner.Json200(await owner.Post($"/api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }));
        var webhookId = created.GetProperty("id").GetGuid();
        var url = new Uri(created.GetProperty("url").GetString()!);
        Assert.StartsWith($"/api/v1/incoming-webhooks/{webhookId}/", url.AbsolutePath);

        using var anonymous = host.Factory.CreateClient();
        var posted = await anonymous.PostAsJsonAsync(url.AbsolutePath, new { text = "Build 42 passed @nobody" });
        await AssertStatus(posted, HttpStatusCode.Created);
        var message = (await MessagesAsync(member, group)).Single(m => m.GetProperty("text").GetString() == "Build 42 passed @nobody");
        Assert.Equal(webhookId, message.GetProperty("senderId").GetGuid());
        Assert.Equal("webhook", message.GetProperty("senderKind").GetString());
        Assert.Equal("CI", message.GetProperty("senderName").GetString());
        Assert.True(message.GetProperty("senderIsBot").GetBoolean());

        // Bad input and a wrong secret: 4xx, nothing posted.
        await AssertStatus(await anonymous.PostAsJsonAsync(url.AbsolutePath, new { text = "" }), HttpStatusCode.BadRequest);
        await AssertStatus(await anonymous.PostAsJsonAsync(url.AbsolutePath, new { text = "x", unknown = 1 }), HttpStatusCode.BadRequest);
        await AssertStatus(await anonymous.PostAsJsonAsync(url.AbsolutePath, new { text = new string('x', 5000) }), HttpStatusCode.BadRequest);
        await AssertStatus(await anonymous.PostAsJsonAsync($"/api/v1/incoming-webhooks/{webhookId}/not-the-secret", new { text = "forged" }), HttpStatusCode.NotFound);
        // The secret is stored only as a hash.
        await using (var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession())
        {
            var stored = await session.LoadAsync<Features.IncomingWebhook>(webhookId);
            Assert.DoesNotContain(url.Segments[^1], JsonSerializer.Serialize(stored));
        }

        var listed = (await owner.Get($"/api/v1/conversations/{group}/incoming-webhooks")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(webhookId, Assert.Single(listed).GetProperty("id").GetGuid());
        Assert.False(listed[0].TryGetProperty("url", out _));
        await AssertStatus(await member.Http.DeleteAsync($"/api/v1/conversations/{group}/incoming-webhooks/{webhookId}"), HttpStatusCode.Forbidden);
        await AssertStatus(await owner.Http.DeleteAsync($"/api/v1/conversations/{group}/incoming-webhooks/{webhookId}"), HttpStatusCode.NoContent);
        await AssertStatus(await anonymous.PostAsJsonAsync(url.AbsolutePath, new { text = "after deletion" }), HttpStatusCode.NotFound);
        Assert.DoesNotContain(await MessagesAsync(owner, group), m => m.GetProperty("text").GetString() == "after deletion");
    }

    [Fact]
    public async Task IncomingWebhook_InADirectConversation_Returns409()
    {
        var alice = host.Client();
        var bob = host.Client();
        var direct = (await alice.Json200(await alice.Post("/api/v1/conversations", new { kind = "direct", memberIds = new[] { bob.UserId } }))).GetProperty("id").GetGuid();
        await AssertStatus(await alice.Post($"/api/v1/conversations/{direct}/incoming-webhooks", new { }), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task SlashCommand_GoesSignedToTheMemberBot_IsNotPosted_AndTheBotAnswersTheCallerAlone()
    {
        var botId = Guid.CreateVersion7();
        var bot = host.Client(botId, "Echo Bot", "bot");
        var alice = host.Client();
        var bob = host.Client();
        var group = await alice.CreateGroup(bob.UserId, botId);
        await host.KnowAsBotAsync(botId, "echobot" + botId.ToString("N")[..6]);

        var registered = await bot.Json200(await bot.Post($"/api/v1/bots/{botId}/commands",
            new { name = "echo", description = "Repeats what you say", url = new Uri(host.Bot, "commands").ToString() }));
        var secret = registered.GetProperty("secret").GetString()!;
        var offered = (await bob.Get($"/api/v1/conversations/{group}/commands")).GetProperty("items").EnumerateArray().ToList();
        Assert.Contains(offered, c => c.GetProperty("name").GetString() == "echo" && c.GetProperty("botId").GetGuid() == botId);
        var members = (await alice.Get($"/api/v1/conversations/{group}/members")).GetProperty("items").EnumerateArray().ToList();
        Assert.True(members.Single(m => m.GetProperty("userId").GetGuid() == botId).GetProperty("isBot").GetBoolean());
        Assert.False(members.Single(m => m.GetProperty("userId").GetGuid() == alice.UserId).GetProperty("isBot").GetBoolean());

        var sent = await alice.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "c1", text = "/echo hi there" });
        await AssertStatus(sent, HttpStatusCode.Accepted);
        var accepted = await sent.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("echo", accepted.GetProperty("command").GetString());
        var responseId = accepted.GetProperty("responseId").GetGuid();

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var (signature, body) = await host.Commands.Reader.ReadAsync(wait.Token);
        var parts = signature.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{parts["t"]}.{body}")));
        Assert.Equal(expected, parts["v1"]);
        var command = JsonDocument.Parse(body).RootElement;
        Assert.Equal("echo", command.GetProperty("command").GetString());
        Assert.Equal("hi there", command.GetProperty("text").GetString());
        Assert.Equal(alice.UserId, command.GetProperty("userId").GetGuid());
        Assert.Equal(group, command.GetProperty("conversationId").GetGuid());
        Assert.Equal(responseId, command.GetProperty("responseId").GetGuid());
        Assert.DoesNotContain(await MessagesAsync(alice, group), m => m.GetProperty("text").GetString()!.StartsWith("/echo", StringComparison.Ordinal));

        // The answer for the caller only: not in the log.
        var answer = await bot.Post($"/api/v1/conversations/{group}/messages", new { text = "hi there", ephemeral = true, responseId });
        await AssertStatus(answer, HttpStatusCode.Accepted);
        var ephemeral = await answer.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(alice.UserId, ephemeral.GetProperty("ephemeralTo").GetGuid());
        Assert.True(ephemeral.GetProperty("ephemeral").GetBoolean());
        Assert.DoesNotContain(await MessagesAsync(bob, group), m => m.GetProperty("text").GetString() == "hi there");
        // A visible answer is an ordinary message, shown as the bot's.
        var visible = await bot.Send(group, "Echo is here");
        Assert.True(visible.GetProperty("senderIsBot").GetBoolean());
        Assert.Equal("bot", visible.GetProperty("senderKind").GetString());

        // A /word no member bot registered is an ordinary message; people cannot send ephemeral messages.
        Assert.Equal("/shrug ok", (await alice.Send(group, "/shrug ok")).GetProperty("text").GetString());
        await AssertStatus(await alice.Post($"/api/v1/conversations/{group}/messages", new { text = "psst", ephemeral = true, ephemeralTo = bob.UserId }), HttpStatusCode.Forbidden);
        await AssertStatus(await bot.Post($"/api/v1/conversations/{group}/messages", new { text = "psst", ephemeral = true, responseId = Guid.CreateVersion7() }), HttpStatusCode.BadRequest);
        await AssertStatus(await bot.Post($"/api/v1/conversations/{group}/messages", new { text = "psst", ephemeral = true, ephemeralTo = Guid.CreateVersion7() }), HttpStatusCode.BadRequest);
        // Someone outside the conversation learns nothing from a command.
        await AssertStatus(await host.Client().Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "x", text = "/echo hi" }), HttpStatusCode.NotFound);
        // A member timed out cannot post through a bot either.
        await AssertStatus(await alice.Http.PutAsJsonAsync($"/api/v1/conversations/{group}/timeouts/{bob.UserId}", new { until = DateTimeOffset.UtcNow.AddHours(1) }), HttpStatusCode.OK);
        await AssertStatus(await bob.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "b1", text = "/echo spam" }), HttpStatusCode.Forbidden);
        Assert.False(host.Commands.Reader.TryRead(out _));
    }

    [Fact]
    public async Task RegisteringCommands_OnlyTheBotOrAPlatformAdmin_WithAValidNameAndAPublicUrl()
    {
        var botId = Guid.CreateVersion7();
        var bot = host.Client(botId, "Helper", "bot");
        var person = host.Client();
        var admin = host.Client(null, "Admin", "admin");
        var url = new Uri(host.Bot, "commands").ToString();

        await AssertStatus(await person.Post($"/api/v1/bots/{botId}/commands", new { name = "help", description = "", url }), HttpStatusCode.Forbidden);
        await AssertStatus(await host.Client(null, "Other bot", "bot").Post($"/api/v1/bots/{botId}/commands", new { name = "help", url }), HttpStatusCode.Forbidden);
        // An admin, for a user not known as a bot: 404.
        await AssertStatus(await admin.Post($"/api/v1/bots/{botId}/commands", new { name = "help", url }), HttpStatusCode.NotFound);
        await AssertStatus(await bot.Post($"/api/v1/bots/{botId}/commands", new { name = "Not a name!", url }), HttpStatusCode.BadRequest);
        await AssertStatus(await bot.Post($"/api/v1/bots/{botId}/commands", new { name = "help", url = "ftp://example.com/x" }), HttpStatusCode.BadRequest);
        await AssertStatus(await bot.Post($"/api/v1/bots/{botId}/commands", new { name = "help", url = "http://10.0.0.7/commands" }), HttpStatusCode.BadRequest);
        await AssertStatus(await bot.Post($"/api/v1/bots/{botId}/commands", new { name = "help", url = "http://169.254.169.254/latest" }), HttpStatusCode.BadRequest);

        await host.KnowAsBotAsync(botId, "helper" + botId.ToString("N")[..6]);
        await AssertStatus(await admin.Post($"/api/v1/bots/{botId}/commands", new { name = "help", description = "Lists what I do", url }), HttpStatusCode.Created);
        var listed = (await person.Get($"/api/v1/bots/{botId}/commands")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal("help", Assert.Single(listed).GetProperty("name").GetString());
        Assert.False(listed[0].TryGetProperty("secret", out _));
        await AssertStatus(await person.Http.DeleteAsync($"/api/v1/bots/{botId}/commands/help"), HttpStatusCode.Forbidden);
        await AssertStatus(await bot.Http.DeleteAsync($"/api/v1/bots/{botId}/commands/help"), HttpStatusCode.NoContent);
        Assert.Empty((await person.Get($"/api/v1/bots/{botId}/commands")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task ABotThatIsDown_DoesNotBreakTheCallersSend()
    {
        var botId = Guid.CreateVersion7();
        var bot = host.Client(botId, "Sleepy", "bot");
        var alice = host.Client();
        var group = await alice.CreateGroup(botId);
        await bot.Json200(await bot.Post($"/api/v1/bots/{botId}/commands", new { name = "nap", url = $"http://127.0.0.1:{host.DeadPort}/commands" }));

        await AssertStatus(await alice.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "n1", text = "/nap" }), HttpStatusCode.Accepted);
        await AssertStatus(await alice.Post($"/api/v1/conversations/{group}/messages", new { clientMessageId = "n2", text = "/nap again" }), HttpStatusCode.Accepted);
        Assert.Equal("still here", (await alice.Send(group, "still here")).GetProperty("text").GetString());
    }
}
