using System.Net;
using System.Text.Json;

namespace Platform.Messaging.Tests;

/// <summary>The public channel directory: public channels only, searchable by title or topic, newest first.</summary>
public sealed class ChannelDirectoryTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private async Task<Guid> Create(ChatClient owner, string kind, string title, bool? isPublic = null, string? topic = null) =>
        (await owner.Json200(await owner.Post("/api/v1/conversations", new { kind, title, topic, isPublic, memberIds = Array.Empty<Guid>() })))
            .GetProperty("id").GetGuid();

    private static List<Guid> Ids(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetGuid()).ToList();

    [Fact]
    public async Task Directory_ListsPublicChannelsOnly_NewestFirst_SearchableAndPaged_AndAnyoneCanJoinOne()
    {
        var owner = host.Client();
        var tag = "zz" + Guid.NewGuid().ToString("N")[..8];
        var first = await Create(owner, "channel", $"{tag} announcements");
        var second = await Create(owner, "channel", "Random", topic: $"all things {tag.ToUpperInvariant()}");
        var hidden = await Create(owner, "channel", $"{tag} private", isPublic: false);
        var group = await Create(owner, "group", $"{tag} group");

        var stranger = host.Client();
        var found = await stranger.Get($"/api/v1/channels?q={tag}");
        Assert.Equal([second, first], Ids(found));
        Assert.DoesNotContain(hidden, Ids(found));
        Assert.DoesNotContain(group, Ids(found));
        var row = found.GetProperty("items")[1];
        Assert.Equal((1, false), (row.GetProperty("memberCount").GetInt32(), row.GetProperty("isMember").GetBoolean()));

        var page = await stranger.Get($"/api/v1/channels?q={tag}&limit=1");
        Assert.Equal([second], Ids(page));
        Assert.Equal([first], Ids(await stranger.Get($"/api/v1/channels?q={tag}&limit=1&cursor={page.GetProperty("next").GetString()}")));
        Assert.Contains(first, Ids(await stranger.Get("/api/v1/channels?limit=1000")));

        await stranger.Json200(await stranger.Post($"/api/v1/conversations/{first}/members", new { userIds = new[] { stranger.UserId } }));
        var joined = (await stranger.Get($"/api/v1/channels?q={tag}")).GetProperty("items")[1];
        Assert.Equal((2, true), (joined.GetProperty("memberCount").GetInt32(), joined.GetProperty("isMember").GetBoolean()));
        // Wildcards in q are plain characters.
        Assert.Empty(Ids(await stranger.Get("/api/v1/channels?q=%25%25_")));
    }

    [Theory]
    [InlineData("/api/v1/channels?cursor=nope")]
    [InlineData("/api/v1/channels?limit=x")]
    public async Task Directory_BadInput_Returns400(string path)
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client().Http.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client().Http.GetAsync("/api/v1/channels?q=" + new string('a', 101))).StatusCode);
    }
}
