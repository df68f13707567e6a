using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Platform.Tests;

/// <summary>
/// <c>POST /api/v1/users/me/exports</c>: the user downloads a ZIP with their data from every service and their files,
/// holding only their own messages' texts; nobody else can read it.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class DataExportTests(WholePlatform platform)
{
    [Fact]
    public async Task AnExport_HoldsTheUsersOwnDataAndFiles_FromEveryService_AndOnlyTheOwnerReadsIt()
    {
        var ida = await platform.SignUpAsync("Ida Exports");
        var jon = await platform.SignUpAsync("Jon Other");
        var conversationId = (await platform.CreateConversationAsync(ida, "group", [jon], "Export group")).GetProperty("id").GetGuid();
        var content = Encoding.UTF8.GetBytes($"ida's file {Guid.NewGuid():N}\n");
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        form.Add(file, "file", "ida-notes.txt");
        var mediaId = (await platform.ReadAsync(await ida.Http.PostAsync("api/v1/media", form), HttpStatusCode.Created, "upload", platform.Media)).GetProperty("id").GetGuid();
        var idas = (await platform.SendAsync(ida, conversationId, "ida's own words", mediaId)).GetProperty("id").GetGuid();
        var jons = (await platform.SendAsync(jon, conversationId, "jon's private words")).GetProperty("id").GetGuid();
        await platform.ReadAsync(await ida.Http.PutAsync($"api/v1/conversations/{conversationId}/messages/{jons}/reactions/{Uri.EscapeDataString("🎉")}", null),
            HttpStatusCode.OK, "Ida reacts", platform.Messaging);
        await platform.ReadAsync(await ida.Http.PutAsJsonAsync("api/v1/presence/me", new { status = "away", statusText = "exporting" }), HttpStatusCode.OK, "status", platform.Presence);
        await platform.ReadAsync(await ida.Http.PutAsJsonAsync("api/v1/notifications/preferences", new { @default = "mentions" }), HttpStatusCode.OK, "preferences", platform.Notifications);

        var created = await platform.ReadAsync(await ida.Http.PostAsync("api/v1/users/me/exports", null), HttpStatusCode.Accepted, "asking for an export", platform.Identity);
        var exportId = created.GetProperty("id").GetGuid();
        var second = await ida.Http.PostAsync("api/v1/users/me/exports", null);
        Assert.True(second.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.Accepted, $"{(int)second.StatusCode}");
        var ready = await platform.EventuallyAsync(
            async () => await platform.ReadAsync(await ida.Http.GetAsync($"api/v1/users/me/exports/{exportId}"), HttpStatusCode.OK, "the export's status", platform.Identity),
            status => status.GetProperty("status").GetString() != "pending", "the export is built", platform.Identity, platform.Messaging, platform.Media);
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        var downloadUrl = new Uri(ready.GetProperty("downloadUrl").GetString()!);

        // Another user learns nothing: neither the status nor the archive.
        Assert.Equal(HttpStatusCode.NotFound, (await jon.Http.GetAsync($"api/v1/users/me/exports/{exportId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await jon.Http.GetAsync(downloadUrl.PathAndQuery.TrimStart('/'))).StatusCode);
        using (var anonymous = platform.Anonymous(platform.Gateway1))
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(downloadUrl.PathAndQuery.TrimStart('/'))).StatusCode);

        var download = await ida.Http.GetAsync(downloadUrl.PathAndQuery.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/zip", download.Content.Headers.ContentType?.MediaType);
        using var zip = new ZipArchive(new MemoryStream(await download.Content.ReadAsByteArrayAsync()), ZipArchiveMode.Read);
        var entries = zip.Entries.ToDictionary(e => e.FullName);
        string Text(string name)
        {
            Assert.True(entries.ContainsKey(name), $"{name} in {string.Join(", ", entries.Keys)}");
            using var reader = new StreamReader(entries[name].Open());
            return reader.ReadToEnd();
        }
        var everything = string.Join("\n", entries.Keys.Where(k => k.EndsWith(".json", StringComparison.Ordinal)).Select(Text));

        var manifest = JsonDocument.Parse(Text("manifest.json")).RootElement.GetProperty("parts");
        foreach (var part in new[] { "identity", "messaging", "notifications", "presence", "media" })
            Assert.Equal("included", manifest.GetProperty(part).GetString());
        Assert.Equal(ida.Id, JsonDocument.Parse(Text("identity/profile.json")).RootElement.GetProperty("id").GetGuid());
        Assert.Contains(ida.Email, Text("identity/profile.json"));
        var messaging = JsonDocument.Parse(Text("messaging.json")).RootElement;
        var mine = Assert.Single(messaging.GetProperty("messages").EnumerateArray());
        Assert.Equal(idas, mine.GetProperty("id").GetGuid());
        Assert.Equal(conversationId, mine.GetProperty("conversationId").GetGuid());
        Assert.Equal("ida's own words", mine.GetProperty("text").GetString());
        Assert.True(mine.TryGetProperty("createdAt", out _));
        var reaction = Assert.Single(messaging.GetProperty("reactions").EnumerateArray());
        Assert.Equal("🎉", reaction.GetProperty("emoji").GetString());
        Assert.DoesNotContain("jon's private words", everything);
        Assert.Contains("exporting", Text("presence.json"));
        Assert.Equal("mentions", JsonDocument.Parse(Text("notifications.json")).RootElement.GetProperty("preferences").GetProperty("default").GetString());
        Assert.Contains("ida-notes.txt", Text("media/files.json"));
        var stored = Assert.Single(entries.Values, e => e.FullName.StartsWith("media/files/", StringComparison.Ordinal));
        using var bytes = new MemoryStream();
        using (var stream = stored.Open())
            await stream.CopyToAsync(bytes);
        Assert.Equal(content, bytes.ToArray());
    }
}
