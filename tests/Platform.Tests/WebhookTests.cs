using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Tests;

/// <summary>Outgoing webhooks through the Gateway, received by an outside HTTP server that verifies every signature.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class WebhookTests(WholePlatform platform)
{
    [Fact]
    public async Task AnOutsideReceiver_VerifiesEveryDelivery_AndGetsEachEventInOrder_AcrossItsOutage()
    {
        var owner = await platform.SignUpAsync("Hanna Hooks");
        var member = await platform.SignUpAsync("Mo Member");
        var group = (await platform.CreateConversationAsync(owner, "group", [member], "integrations")).GetProperty("id").GetGuid();
        await using var receiver = await WebhookReceiver.StartAsync();
        var created = await RegisterAsync(owner, group, receiver.Url, ["message.posted", "message.edited", "message.deleted"]);
        var webhookId = created.GetProperty("id").GetGuid();
        receiver.VerifyWith(created.GetProperty("secret").GetString()!);

        var sent = new List<long>();
        for (var i = 1; i <= 3; i++)
            sent.Add((await platform.SendAsync(member, group, $"before {i}")).GetProperty("seq").GetInt64());
        await platform.EventuallyAsync(() => Task.FromResult(receiver.Unique), r => r.Count >= 3, "the first three delivered", platform.Notifications);

        // The receiver goes away; the conversation goes on: messages, an edit, and a message deleted before it was delivered.
        await receiver.StopAsync();
        for (var i = 1; i <= 4; i++)
            sent.Add((await platform.SendAsync(member, group, $"during {i}")).GetProperty("seq").GetInt64());
        var regretted = await platform.SendAsync(member, group, "a regrettable remark");
        sent.Add(regretted.GetProperty("seq").GetInt64());
        var regrettedId = regretted.GetProperty("id").GetGuid();
        await platform.ReadAsync(await member.Http.PatchAsJsonAsync($"api/v1/conversations/{group}/messages/{regrettedId}", new { text = "a more regrettable remark" }),
            HttpStatusCode.OK, "editing", platform.Messaging);
        await platform.ReadAsync(await member.Http.DeleteAsync($"api/v1/conversations/{group}/messages/{regrettedId}"), HttpStatusCode.NoContent, "deleting", platform.Messaging);
        await platform.EventuallyAsync(() => owner.Http.GetFromJsonAsync<JsonElement>($"api/v1/webhooks/{webhookId}/deliveries"),
            log => log.GetProperty("items").EnumerateArray().Any(d => d.GetProperty("attempts").GetInt32() >= 2), "retries while the receiver is down", platform.Notifications);
        await receiver.RestartAsync();

        var unique = await platform.EventuallyAsync(() => Task.FromResult(receiver.Unique), r => r.Count >= 10, "every event delivered", platform.Notifications);
        Assert.Empty(receiver.Rejected);
        var seqs = unique.Select(r => r.Json.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Distinct().Count(), seqs.Count);
        Assert.Subset(seqs.ToHashSet(), sent.ToHashSet()); // every message sent was delivered
        Assert.Equal(["message.edited", "message.deleted"], unique.TakeLast(2).Select(r => r.Json.GetProperty("type").GetString()));
        // At least once: a repeat carries the same event id and the same body; nothing arrives out of order.
        Assert.All(receiver.Received.GroupBy(r => r.EventId), g => Assert.Single(g.Select(r => r.Body).Distinct()));
        var arrival = receiver.Received.Select(r => r.Json.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(arrival.Order(), arrival);
        // The message deleted while its delivery waited left no text behind.
        Assert.All(receiver.Received, r => Assert.DoesNotContain("regrettable", r.Body));

        var log = await owner.Http.GetFromJsonAsync<JsonElement>($"api/v1/webhooks/{webhookId}/deliveries?limit=50");
        Assert.Equal(10, log.GetProperty("items").GetArrayLength());
        Assert.All(log.GetProperty("items").EnumerateArray(), d => Assert.Equal("delivered", d.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Webhooks_RefuseBadInput_AndAnyoneButTheConversationsAdmins()
    {
        var owner = await platform.SignUpAsync("Owen Owns");
        var member = await platform.SignUpAsync("Meg Member");
        var outsider = await platform.SignUpAsync("Oscar Outsider");
        var group = (await platform.CreateConversationAsync(owner, "group", [member], "guarded")).GetProperty("id").GetGuid();
        // Notifications knows the conversation (and its roles) once it has consumed its creation. (No message is sent
        // here: 93.184.215.14 is a real public address, never connected to.)
        var first = (await RegisterAsync(owner, group, "https://93.184.215.14/in", ["message.posted"])).GetProperty("id").GetGuid();
        object Body(string url, string[] events, Guid? conversationId) => new { url, events, conversationId };

        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://10.0.0.7/hook", ["message.posted"], group)), HttpStatusCode.BadRequest, "a private address");
        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://169.254.169.254/latest/meta-data/", ["message.posted"], group)), HttpStatusCode.BadRequest, "the metadata address");
        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("http://hooks.example.com/in", ["message.posted"], group)), HttpStatusCode.BadRequest, "plain http");
        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", ["message.exploded"], group)), HttpStatusCode.BadRequest, "an unknown event type");
        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", [], group)), HttpStatusCode.BadRequest, "no event types");
        await Refused(await member.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", ["message.posted"], group)), HttpStatusCode.Forbidden, "a plain member");
        await Refused(await outsider.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", ["message.posted"], group)), HttpStatusCode.NotFound, "a non-member");
        await Refused(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", ["message.posted"], null)), HttpStatusCode.Forbidden, "every conversation, not a platform admin");
        Assert.Equal(HttpStatusCode.Unauthorized, (await platform.Anonymous(platform.Gateway1).GetAsync("api/v1/webhooks")).StatusCode);

        var hook = await platform.ReadAsync(await owner.Http.PostAsJsonAsync("api/v1/webhooks", Body("https://93.184.215.14/in", ["message.posted"], group)),
            HttpStatusCode.Created, "a public literal address", platform.Notifications);
        var hookId = hook.GetProperty("id").GetGuid();
        await Refused(await outsider.Http.GetAsync($"api/v1/webhooks/{hookId}/deliveries"), HttpStatusCode.NotFound, "an outsider's look at the log");
        await Refused(await member.Http.PostAsync($"api/v1/webhooks/{hookId}/rotate-secret", null), HttpStatusCode.NotFound, "a member rotating");
        await Refused(await outsider.Http.DeleteAsync($"api/v1/webhooks/{hookId}"), HttpStatusCode.NotFound, "an outsider deleting");
        Assert.Empty((await outsider.Http.GetFromJsonAsync<JsonElement>("api/v1/webhooks")).GetProperty("items").EnumerateArray());
        Assert.Contains(hookId, (await owner.Http.GetFromJsonAsync<JsonElement>($"api/v1/webhooks?conversationId={group}")).GetProperty("items")
            .EnumerateArray().Select(h => h.GetProperty("id").GetGuid()));
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"api/v1/webhooks/{hookId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Http.DeleteAsync($"api/v1/webhooks/{first}")).StatusCode);
    }

    [Fact]
    public async Task AWebhookForEveryConversation_Stops_WhenItsOwnerLosesTheAdminRole()
    {
        var ada = await platform.SignUpAsync("Ada Appoints");
        using var adaHttp = await platform.SignInAsAdminAsync(ada);
        var bo = await platform.SignUpAsync("Bo Bridges");
        using var boHttp = await platform.SignInAsAdminAsync(bo);
        var mia = await platform.SignUpAsync("Mia Member");
        var group = (await platform.CreateConversationAsync(mia, "group", [ada], "watched from everywhere")).GetProperty("id").GetGuid();
        await using var everywhere = await WebhookReceiver.StartAsync();
        var created = await platform.ReadAsync(await boHttp.PostAsJsonAsync("api/v1/webhooks",
            new { url = everywhere.Url, events = new[] { "message.posted" }, conversationId = (Guid?)null }), HttpStatusCode.Created, "Bo's webhook for every conversation", platform.Notifications);
        var hookId = created.GetProperty("id").GetGuid();
        everywhere.VerifyWith(created.GetProperty("secret").GetString()!);
        // Mia's own webhook for the group witnesses what Notifications has consumed.
        await using var witness = await WebhookReceiver.StartAsync();
        var mias = await RegisterAsync(mia, group, witness.Url, ["message.posted"]);
        witness.VerifyWith(mias.GetProperty("secret").GetString()!);
        long Seq(ReceivedWebhook r) => r.Json.GetProperty("seq").GetInt64();
        var before = (await platform.SendAsync(mia, group, "seen by the platform's integration")).GetProperty("seq").GetInt64();
        await platform.EventuallyAsync(() => Task.FromResult(everywhere.Unique), r => r.Any(d => Seq(d) == before), "Bo's webhook gets Mia's message", platform.Notifications);

        await platform.ReadAsync(await adaHttp.DeleteAsync($"api/v1/users/{bo.Id}/roles/admin"), HttpStatusCode.NoContent, "Ada revokes Bo's admin role", platform.Identity);

        // Bo's sessions end with the role, so his tokens that still say admin are refused. Until the revocation reaches
        // Notifications, such a token may still register a webhook for every conversation (403 once the role change has
        // arrived), which the role change then disables with the others: the attempts go to a receiver of their own,
        // which must get nothing after.
        await using var stale = await WebhookReceiver.StartAsync();
        await platform.EventuallyAsync(() => boHttp.PostAsJsonAsync("api/v1/webhooks", new { url = stale.Url, events = new[] { "message.posted" }, conversationId = (Guid?)null }),
            r => r.StatusCode == HttpStatusCode.Unauthorized, "Bo's admin token refused", platform.Identity, platform.Notifications);
        using var boAgain = await platform.SignInWithRolesAsync(bo.Email);
        Assert.Equal(HttpStatusCode.Forbidden, (await boAgain.PostAsJsonAsync("api/v1/webhooks",
            new { url = everywhere.Url, events = new[] { "message.posted" }, conversationId = (Guid?)null })).StatusCode);
        var mine = await platform.EventuallyAsync(() => boAgain.GetFromJsonAsync<JsonElement>("api/v1/webhooks"),
            l => l.GetProperty("items").EnumerateArray().Single(h => h.GetProperty("id").GetGuid() == hookId).GetProperty("disabled").GetBoolean(),
            "Bo's webhook for every conversation disabled", platform.Identity, platform.Notifications);
        Assert.Equal("Its owner is no longer a platform admin.",
            mine.GetProperty("items").EnumerateArray().Single(h => h.GetProperty("id").GetGuid() == hookId).GetProperty("disabledReason").GetString());
        var after = (await platform.SendAsync(mia, group, "not for a former admin's integration")).GetProperty("seq").GetInt64();
        await platform.EventuallyAsync(() => Task.FromResult(witness.Unique), r => r.Any(d => Seq(d) == after), "Mia's webhook gets the message after", platform.Notifications);
        Assert.DoesNotContain(everywhere.Unique, d => d.Json.GetProperty("conversationId").GetGuid() == group && Seq(d) == after);
        Assert.DoesNotContain(stale.Unique, d => d.Json.GetProperty("conversationId").GetGuid() == group && Seq(d) == after);
        Assert.Empty(everywhere.Rejected);
    }

    /// <summary>Notifications learns of a new conversation from its events, so a registration right after creating it waits for that.</summary>
    private async Task<JsonElement> RegisterAsync(User user, Guid conversationId, string url, string[] events)
    {
        var response = await platform.EventuallyAsync(() => user.Http.PostAsJsonAsync("api/v1/webhooks", new { url, events, conversationId }),
            r => r.StatusCode != HttpStatusCode.NotFound, "Notifications knows the conversation", platform.Notifications);
        return await platform.ReadAsync(response, HttpStatusCode.Created, "registering a webhook", platform.Notifications);
    }

    private static async Task Refused(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
