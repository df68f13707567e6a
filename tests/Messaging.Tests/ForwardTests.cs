using System.Net;
using System.Text.Json;

namespace Platform.Messaging.Tests;

/// <summary>Forwarding: the forward carries the origin's content and a reference its readers may or may not open.</summary>
public sealed class ForwardTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static Guid Id(JsonElement message) => message.GetProperty("id").GetGuid();

    private static Task<HttpResponseMessage> Forward(ChatClient client, Guid to, Guid fromConversation, Guid fromMessage, string? text = null) =>
        client.Post($"/api/v1/conversations/{to}/messages",
            new { clientMessageId = Guid.NewGuid().ToString(), text, forwardedFrom = new { conversationId = fromConversation, messageId = fromMessage } });

    [Fact]
    public async Task AForward_CarriesTheOriginsTextAndAReference_ThatOnlyTheOriginsMembersCanOpen()
    {
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var origin = await alice.CreateGroup(bob.UserId);
        var target = await alice.CreateGroup(carol.UserId);
        var original = await bob.Send(origin, "the plan: ship on Friday");

        var forward = await alice.Json200(await Forward(alice, target, origin, Id(original)));
        Assert.Equal("the plan: ship on Friday", forward.GetProperty("text").GetString());
        Assert.Equal(alice.UserId, forward.GetProperty("senderId").GetGuid());
        var reference = forward.GetProperty("forwardedFrom");
        Assert.Equal((origin, Id(original)), (reference.GetProperty("conversationId").GetGuid(), reference.GetProperty("messageId").GetGuid()));

        // Carol reads the forward (in history and the log) but cannot open the origin; Bob, a member there, can.
        var seen = (await carol.Get($"/api/v1/conversations/{target}/messages")).GetProperty("items").EnumerateArray().Single(m => Id(m) == Id(forward));
        Assert.Equal(Id(original), seen.GetProperty("forwardedFrom").GetProperty("messageId").GetGuid());
        var logged = (await carol.Get($"/api/v1/conversations/{target}/events")).GetProperty("items").EnumerateArray()
            .Single(e => e.GetProperty("type").GetString() == "message.posted" && Id(e.GetProperty("data")) == Id(forward));
        Assert.Equal(origin, logged.GetProperty("data").GetProperty("forwardedFrom").GetProperty("conversationId").GetGuid());
        Assert.Equal(HttpStatusCode.NotFound, (await carol.Http.GetAsync($"/api/v1/conversations/{origin}/messages/{Id(original)}")).StatusCode);
        await bob.Get($"/api/v1/conversations/{origin}/messages/{Id(original)}");

        // A comment replaces the text; an ordinary message has no reference.
        var commented = await alice.Json200(await Forward(alice, target, origin, Id(original), "see this"));
        Assert.Equal("see this", commented.GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, (await alice.Send(target, "plain")).GetProperty("forwardedFrom").ValueKind);
    }

    [Fact]
    public async Task Forwarding_WhatTheForwarderCannotRead_Returns400_AndRevealsNothing()
    {
        var alice = host.Client();
        var bob = host.Client();
        var mallory = host.Client();
        var origin = await alice.CreateGroup(bob.UserId);
        var mallorys = await mallory.CreateGroup(Guid.CreateVersion7());
        var secret = await alice.Send(origin, "secret");
        var gone = await alice.Send(origin, "deleted soon");
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{origin}/messages/{Id(gone)}")).StatusCode);

        var refused = await Forward(mallory, mallorys, origin, Id(secret));
        var unknown = await Forward(mallory, mallorys, origin, Guid.CreateVersion7());
        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (refused.StatusCode, unknown.StatusCode));
        Assert.Equal(JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString(),
            JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await Forward(alice, origin, origin, Id(gone))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Forward(alice, origin, mallorys, Id(secret))).StatusCode);
        // Forwarding into a conversation one is not in: 404 as for any send.
        Assert.Equal(HttpStatusCode.NotFound, (await Forward(alice, mallorys, origin, Id(secret))).StatusCode);
        Assert.DoesNotContain("secret", (await mallory.Get($"/api/v1/conversations/{mallorys}/events")).GetRawText());
    }
}
