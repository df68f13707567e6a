namespace Platform.Tests;

/// <summary>Messaging, Media and both Gateways: a posted link is previewed by Media and pushed to the members live.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class LinkPreviewTests(WholePlatform platform)
{
    [Fact]
    public async Task ALinkInAMessage_GetsItsPreviewAttachedLive_OnEveryMembersJsClient()
    {
        var alice = await platform.SignUpAsync("Alice Links");
        var bob = await platform.SignUpAsync("Bob Reads", platform.Gateway2);
        var conversationId = (await platform.CreateConversationAsync(alice, "group", [bob], "reading list")).GetProperty("id").GetGuid();
        await using var aliceClient = await platform.ConnectAsync(alice, platform.Gateway1);
        await using var bobClient = await platform.ConnectAsync(bob, platform.Gateway2);
        var slug = Guid.NewGuid().ToString("N")[..8];

        var message = await platform.SendAsync(alice, conversationId, $"have a look: {platform.Site}articles/{slug}");

        foreach (var client in new[] { aliceClient, bobClient })
        {
            var attached = await client.NextAsync("event",
                e => e.GetProperty("conversationId").GetGuid() == conversationId && e.GetProperty("type").GetString() == "link-preview.attached",
                "receives link-preview.attached");
            Assert.Equal(message.GetProperty("id").GetGuid(), attached.GetProperty("data").GetProperty("messageId").GetGuid());
            Assert.Equal($"Article {slug}", attached.GetProperty("data").GetProperty("title").GetString());
            Assert.True(attached.GetProperty("seq").GetInt64() > message.GetProperty("seq").GetInt64());
        }
    }
}
