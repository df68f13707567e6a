using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Platform.Samples.EchoBot;

namespace Platform.Tests;

/// <summary>
/// Bots, slash commands and incoming webhooks through the Gateway: the sample EchoBot (samples/EchoBot, on the .NET SDK)
/// runs in-process as an outside bot would, signing in with its client credentials; people use the JS hub client.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class IntegrationTests(WholePlatform platform)
{
    [Fact]
    public async Task TheEchoBot_AnswersASlashCommandToTheCallerAlone_AndAMentionToEveryone()
    {
        var alice = await platform.SignUpAsync("Alice Commands");
        var bob = await platform.SignUpAsync("Bob Watches");
        // Only platform admins create bots.
        await AssertProblemAsync(await alice.Http.PostAsJsonAsync("api/v1/bots", new { displayName = "Nope", username = "nope" + Suffix() }), HttpStatusCode.Forbidden, "a non-admin creating a bot");
        using var admin = await AdminAsync();
        var username = "echo" + Suffix();
        var created = await platform.ReadAsync(await admin.PostAsJsonAsync("api/v1/bots", new { displayName = "Echo", username }), HttpStatusCode.Created, "creating a bot", platform.Identity);
        var botId = created.GetProperty("userId").GetGuid();

        await using var bot = await EchoBot.StartAsync(new EchoBotOptions
        {
            GatewayUrl = platform.Gateway1.BaseAddress,
            ClientId = created.GetProperty("clientId").GetString()!,
            ClientSecret = created.GetProperty("clientSecret").GetString()!,
            Listen = $"http://127.0.0.1:{platform.BotPort}",
        });
        Assert.Equal(botId, bot.UserId);

        var group = (await platform.CreateConversationAsync(alice, "group", [bob], "With a bot")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { botId } }), HttpStatusCode.OK, "adding the bot", platform.Messaging);
        await platform.EventuallyAsync(async () => (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/members"), HttpStatusCode.OK, "listing members", platform.Messaging))
            .GetProperty("items").EnumerateArray().Single(m => m.GetProperty("userId").GetGuid() == botId).GetProperty("isBot").GetBoolean(),
            isBot => isBot, "the member list shows the bot as a bot", platform.Messaging);
        Assert.True((await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/users/{botId}"), HttpStatusCode.OK, "the bot's profile", platform.Identity)).GetProperty("isBot").GetBoolean());
        var commands = (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/commands"), HttpStatusCode.OK, "the conversation's commands", platform.Messaging))
            .GetProperty("items").EnumerateArray().ToList();
        Assert.Contains(commands, c => c.GetProperty("name").GetString() == "echo");

        await using var aliceHub = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobHub = await platform.ConnectAsync(bob, platform.Gateway2);
        var sent = await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/messages", new { clientMessageId = "echo-1", text = "/echo hi" });
        var accepted = await platform.ReadAsync(sent, HttpStatusCode.Accepted, "sending /echo", platform.Messaging);
        Assert.Equal("echo", accepted.GetProperty("command").GetString());

        var answer = await aliceHub.NextAsync("ephemeral", e => e.GetProperty("responseId").GetGuid() == accepted.GetProperty("responseId").GetGuid(), "gets the bot's ephemeral answer");
        Assert.Equal("hi", answer.GetProperty("text").GetString());
        Assert.Equal(botId, answer.GetProperty("senderId").GetGuid());
        Assert.True(answer.GetProperty("senderIsBot").GetBoolean());
        // Not in the log, and not for Bob: a message sent after it reaches him, the answer never does.
        var marker = await platform.SendAsync(alice, group, "after the command");
        await bobHub.NextAsync("event", e => e.GetProperty("seq").GetInt64() == marker.GetProperty("seq").GetInt64(), "receives the message after the command");
        Assert.Empty(bobHub.Calls("ephemeral"));
        var history = (await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{group}/messages"), HttpStatusCode.OK, "history", platform.Messaging))
            .GetProperty("items").EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.DoesNotContain("/echo hi", history);
        Assert.DoesNotContain("hi", history);

        // A mention: the bot answers in the conversation, visible to all, shown as a bot's message.
        await platform.SendAsync(bob, group, $"are you there @{username}?");
        var reply = await aliceHub.NextAsync("event", e => e.GetProperty("type").GetString() == "message.posted" && e.GetProperty("actorId").GetGuid() == botId,
            "receives the bot's answer to the mention");
        Assert.True(reply.GetProperty("data").GetProperty("senderIsBot").GetBoolean());
        Assert.Contains("are you there", reply.GetProperty("data").GetProperty("text").GetString());

        // The bot refuses a command that is not signed with its secret.
        using var forger = new HttpClient();
        using var forged = new HttpRequestMessage(HttpMethod.Post, new Uri(bot.Address, "commands/echo"))
        {
            Content = JsonContent.Create(new { command = "echo", text = "forged", conversationId = group, userId = alice.Id, responseId = Guid.NewGuid() }),
        };
        forged.Headers.Add("Platform-Signature", $"t={DateTimeOffset.UtcNow.ToUnixTimeSeconds()},v1={new string('0', 64)}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forger.SendAsync(forged)).StatusCode);
        // And people cannot send ephemeral messages.
        await AssertProblemAsync(await bob.Http.PostAsJsonAsync($"api/v1/conversations/{group}/messages", new { text = "psst", ephemeral = true, ephemeralTo = alice.Id }),
            HttpStatusCode.Forbidden, "a person's ephemeral message");
    }

    [Fact]
    public async Task AnIncomingWebhook_PostsThroughTheGateway_OnlyForAdmins_AndStopsWhenDeleted()
    {
        var owner = await platform.SignUpAsync("Olga Owns");
        var member = await platform.SignUpAsync("Mo Member");
        var stranger = await platform.SignUpAsync("Stan Stranger");
        var group = (await platform.CreateConversationAsync(owner, "group", [member], "Builds")).GetProperty("id").GetGuid();

        await AssertProblemAsync(await stranger.Http.PostAsJsonAsync($"api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }), HttpStatusCode.NotFound, "a stranger's webhook");
        await AssertProblemAsync(await member.Http.PostAsJsonAsync($"api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }), HttpStatusCode.Forbidden, "a member's webhook");
        var webhook = await platform.ReadAsync(await owner.Http.PostAsJsonAsync($"api/v1/conversations/{group}/incoming-webhooks", new { name = "CI" }),
            HttpStatusCode.Created, "creating a webhook", platform.Messaging);
        var url = new Uri(webhook.GetProperty("url").GetString()!);

        await using var memberHub = await platform.ConnectAsync(member, platform.Gateway2);
        using var anonymous = platform.Anonymous(platform.Gateway1);
        await platform.ReadAsync(await anonymous.PostAsJsonAsync(url.PathAndQuery.TrimStart('/'), new { text = "Build 7 is green" }), HttpStatusCode.Created, "posting to the webhook", platform.Messaging);
        var posted = await memberHub.NextAsync("event", e => e.GetProperty("type").GetString() == "message.posted", "receives the webhook's message");
        Assert.Equal("Build 7 is green", posted.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("webhook", posted.GetProperty("data").GetProperty("senderKind").GetString());
        Assert.Equal("CI", posted.GetProperty("data").GetProperty("senderName").GetString());
        // Notifications has no user of the webhook's id to name: the member is told under the webhook's own name.
        var notification = await memberHub.NextAsync("notification", n => n.GetProperty("conversationId").GetString() == group.ToString(), "the member's notification of the webhook's message");
        Assert.Equal("CI in Builds", notification.GetProperty("title").GetString());

        await AssertProblemAsync(await anonymous.PostAsJsonAsync(url.PathAndQuery.TrimStart('/'), new { text = "" }), HttpStatusCode.BadRequest, "an empty webhook message");
        await AssertProblemAsync(await anonymous.PostAsJsonAsync($"api/v1/incoming-webhooks/{webhook.GetProperty("id").GetGuid()}/wrong", new { text = "x" }), HttpStatusCode.NotFound, "a wrong secret");
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"api/v1/conversations/{group}/incoming-webhooks/{webhook.GetProperty("id").GetGuid()}")).StatusCode);
        await AssertProblemAsync(await anonymous.PostAsJsonAsync(url.PathAndQuery.TrimStart('/'), new { text = "after deletion" }), HttpStatusCode.NotFound, "a deleted webhook");
    }

    [Fact]
    public async Task ABot_HasRateLimitsOfItsOwn_AtTheGateway()
    {
        var alice = await platform.SignUpAsync("Alice Hosts A Bot");
        using var admin = await AdminAsync();
        var created = await platform.ReadAsync(await admin.PostAsJsonAsync("api/v1/bots", new { displayName = "Chatty", username = "chatty" + Suffix() }),
            HttpStatusCode.Created, "creating a bot", platform.Identity);
        var botId = created.GetProperty("userId").GetGuid();
        using var anonymous = platform.Anonymous(platform.Gateway1);
        var token = await platform.ReadAsync(await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = created.GetProperty("clientId").GetString()!,
            ["client_secret"] = created.GetProperty("clientSecret").GetString()!, ["scope"] = "api",
        })), HttpStatusCode.OK, "the bot's client credentials", platform.Identity);
        using var bot = platform.Anonymous(platform.Gateway1);
        bot.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.GetProperty("access_token").GetString());
        var group = (await platform.CreateConversationAsync(alice, "group", [], "Busy")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{group}/members", new { userIds = new[] { botId } }), HttpStatusCode.OK, "adding the bot", platform.Messaging);

        // From a public address (the test processes exempt loopback): the bot's bucket is bot-send's, larger than people's.
        var address = $"203.0.113.{Random.Shared.Next(1, 250)}";
        var accepted = 0;
        HttpResponseMessage? refused = null;
        var started = DateTime.UtcNow;
        for (var i = 0; i < 90 && refused is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/conversations/{group}/messages")
            {
                Content = JsonContent.Create(new { clientMessageId = $"bot-{i}", text = $"status {i}" }),
            };
            request.Headers.Add("X-Forwarded-For", address);
            var response = await bot.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.Created)
                accepted++;
            else
                refused = response;
        }
        var elapsed = DateTime.UtcNow - started;

        Assert.NotNull(refused);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("bot-send", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.InRange(accepted, 50, 51 + (int)(elapsed.TotalMilliseconds / 100));
    }

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} instead of {(int)expected}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    /// <summary>A platform admin, signed in with the roles scope.</summary>
    private async Task<HttpClient> AdminAsync() => await platform.SignInAsAdminAsync(await platform.SignUpAsync("Ada Admin"));
}
