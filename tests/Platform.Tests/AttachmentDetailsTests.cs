using System.Text.Json;

namespace Platform.Tests;

/// <summary>Media, Messaging and both Gateways: an attached file's details reach the members live and stay on the message.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class AttachmentDetailsTests(WholePlatform platform)
{
    [Fact]
    public async Task AnAttachedImage_GetsItsDetailsLive_AndInTheMessage_ButSomeoneElsesFileStaysBare()
    {
        var alice = await platform.SignUpAsync("Alice Pictures");
        var bob = await platform.SignUpAsync("Bob Looks", platform.Gateway2);
        var carol = await platform.SignUpAsync("Carol Elsewhere");
        var conversationId = (await platform.CreateConversationAsync(alice, "group", [bob], "pictures")).GetProperty("id").GetGuid();
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        var mine = (await platform.UploadImageAsync(alice)).GetProperty("id").GetGuid();
        var carols = (await platform.UploadImageAsync(carol)).GetProperty("id").GetGuid();

        var message = await platform.SendAsync(alice, conversationId, "two pictures", mine, carols);
        var messageId = message.GetProperty("id").GetGuid();

        var ready = await bobClient.NextAsync("event",
            e => e.GetProperty("conversationId").GetGuid() == conversationId && e.GetProperty("type").GetString() == "message.attachments-ready",
            "receives message.attachments-ready");
        Assert.Equal(messageId, ready.GetProperty("data").GetProperty("messageId").GetGuid());
        var announced = Assert.Single(ready.GetProperty("data").GetProperty("attachments").EnumerateArray());
        Assert.Equal(mine, announced.GetProperty("id").GetGuid());

        var fetched = await platform.ReadAsync(await bob.Http.GetAsync($"api/v1/conversations/{conversationId}/messages/{messageId}"),
            System.Net.HttpStatusCode.OK, "reading the message", platform.Messaging);
        var attachments = fetched.GetProperty("attachments").EnumerateArray().ToList();
        Assert.Equal([mine, carols], attachments.Select(a => a.GetProperty("id").GetGuid()));
        var details = attachments[0];
        Assert.Equal(96, details.GetProperty("width").GetInt32());
        Assert.Equal(64, details.GetProperty("height").GetInt32());
        Assert.StartsWith("image/", details.GetProperty("contentType").GetString());
        Assert.True(details.GetProperty("size").GetInt64() > 0);
        Assert.Equal($"/api/v1/media/{mine}/thumbnail", details.GetProperty("thumbnailUrl").GetString());
        Assert.False(string.IsNullOrEmpty(details.GetProperty("blurHash").GetString()));
        Assert.False(details.GetProperty("animated").GetBoolean());
        // Carol's file was named by someone who does not own it: its details are not told.
        Assert.Equal(JsonValueKind.Null, attachments[1].GetProperty("contentType").ValueKind);
    }
}
