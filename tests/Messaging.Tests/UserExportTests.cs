namespace Platform.Messaging.Tests;

/// <summary><c>GET /internal/v1/export</c>: the caller's own messages, reactions, memberships and saved messages; nobody else's text.</summary>
public sealed class UserExportTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task Export_HoldsOnlyTheCallersOwnMessagesAndReactions()
    {
        var ida = host.Client(name: "Ida");
        var jon = host.Client(name: "Jon");
        var conversationId = await ida.CreateGroup(jon.UserId);
        var idas = (await ida.Send(conversationId, "ida writes this")).GetProperty("id").GetGuid();
        var jons = (await jon.Send(conversationId, "jon writes that")).GetProperty("id").GetGuid();
        await ida.Json200(await ida.Http.PutAsync($"/api/v1/conversations/{conversationId}/messages/{jons}/reactions/{Uri.EscapeDataString("👍")}", null));
        (await ida.Http.PutAsync($"/api/v1/saved-messages/{jons}", null)).EnsureSuccessStatusCode();

        var export = await ida.Get("/internal/v1/export");

        var message = Assert.Single(export.GetProperty("messages").EnumerateArray());
        Assert.Equal(idas, message.GetProperty("id").GetGuid());
        Assert.Equal(conversationId, message.GetProperty("conversationId").GetGuid());
        Assert.Equal("ida writes this", message.GetProperty("text").GetString());
        var reaction = Assert.Single(export.GetProperty("reactions").EnumerateArray());
        Assert.Equal(jons, reaction.GetProperty("messageId").GetGuid());
        Assert.Equal("👍", reaction.GetProperty("emoji").GetString());
        Assert.Equal(conversationId, Assert.Single(export.GetProperty("conversations").EnumerateArray()).GetProperty("conversationId").GetGuid());
        Assert.Equal(jons, Assert.Single(export.GetProperty("savedMessages").EnumerateArray()).GetProperty("messageId").GetGuid());
        Assert.DoesNotContain("jon writes that", export.GetRawText());
    }
}
