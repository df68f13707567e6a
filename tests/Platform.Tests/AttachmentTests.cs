using System.Net;
using System.Net.Http.Json;

namespace Platform.Tests;

/// <summary>Files attached to messages: Media learns who may read them, and when they go, from Messaging's log.</summary>
[Collection(WholePlatformCollection.Name)]
public sealed class AttachmentTests(WholePlatform platform)
{
    [Fact]
    public async Task AnAttachment_IsReadByEveryMember_IncludingOneAddedLater_AndByNoOneElse()
    {
        var alice = await platform.SignUpAsync("Alice Attaches");
        var bob = await platform.SignUpAsync("Bob Member", platform.Gateway2);
        var carol = await platform.SignUpAsync("Carol Later");
        var dave = await platform.SignUpAsync("Dave Outsider");
        var mediaId = (await platform.UploadImageAsync(alice)).GetProperty("id").GetGuid();
        var conversationId = (await platform.CreateConversationAsync(alice, "group", [bob], "photos")).GetProperty("id").GetGuid();

        await platform.SendAsync(alice, conversationId, "the photo", mediaId);

        await ReadableAsync(bob, mediaId, "Bob, a member");
        await ReadableAsync(alice, mediaId, "Alice, the uploader");
        await NotReadableAsync(carol, mediaId);
        await platform.ReadAsync(await alice.Http.PostAsJsonAsync($"api/v1/conversations/{conversationId}/members", new { userIds = new[] { carol.Id } }),
            HttpStatusCode.OK, "adding Carol", platform.Messaging);
        await ReadableAsync(carol, mediaId, "Carol, added after the message");
        await NotReadableAsync(dave, mediaId);
    }

    [Fact]
    public async Task DeletingAMessage_DeletesItsAttachment_ForEveryMember_AndItsStoredBytes()
    {
        var alice = await platform.SignUpAsync("Alice Deletes");
        var bob = await platform.SignUpAsync("Bob Sees It Go", platform.Gateway2);
        var before = StoredBlobs();
        var mediaId = (await platform.UploadImageAsync(alice)).GetProperty("id").GetGuid();
        var blobs = StoredBlobs().Except(before).ToList();
        Assert.NotEmpty(blobs);
        var conversationId = (await platform.CreateConversationAsync(alice, "group", [bob], "short-lived")).GetProperty("id").GetGuid();
        var messageId = (await platform.SendAsync(alice, conversationId, "soon gone", mediaId)).GetProperty("id").GetGuid();
        await ReadableAsync(bob, mediaId, "Bob, a member");

        await platform.ReadAsync(await alice.Http.DeleteAsync($"api/v1/conversations/{conversationId}/messages/{messageId}"),
            HttpStatusCode.NoContent, "deleting the message", platform.Messaging);

        foreach (var member in new[] { alice, bob })
            await platform.EventuallyAsync(() => StatusAsync(member, $"api/v1/media/{mediaId}"), status => status == HttpStatusCode.NotFound,
                $"the file is gone for {member.Username} once its message is deleted", platform.Media);
        await platform.EventuallyAsync(() => Task.FromResult(blobs.Where(File.Exists).ToList()), remaining => remaining.Count == 0,
            "the file's stored bytes (original and thumbnails) are deleted", platform.Media);
    }

    /// <summary>The file and its thumbnail redirect the user to signed URLs that serve them (once Media has linked the file).</summary>
    private async Task ReadableAsync(User user, Guid mediaId, string who)
    {
        using var anonymous = platform.Anonymous(platform.Gateway1);
        foreach (var path in new[] { $"api/v1/media/{mediaId}", $"api/v1/media/{mediaId}/thumbnail" })
        {
            await platform.EventuallyAsync(() => StatusAsync(user, path), status => status == HttpStatusCode.Redirect, $"{who} may read {path}", platform.Media);
            using var redirect = await user.Http.GetAsync(path);
            using var content = await anonymous.GetAsync(redirect.Headers.Location);
            Assert.Equal(HttpStatusCode.OK, content.StatusCode);
            Assert.StartsWith("image/", content.Content.Headers.ContentType?.MediaType);
        }
    }

    /// <summary>A user who may not read a file learns nothing of it: 404, as for a file that does not exist (Media's README).</summary>
    private static async Task NotReadableAsync(User user, Guid mediaId)
    {
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(user, $"api/v1/media/{mediaId}"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(user, $"api/v1/media/{mediaId}/thumbnail"));
    }

    private static async Task<HttpStatusCode> StatusAsync(User user, string path)
    {
        using var response = await user.Http.GetAsync(path);
        return response.StatusCode;
    }

    private IReadOnlySet<string> StoredBlobs() => Directory.Exists(platform.MediaBlobs)
        ? Directory.EnumerateFiles(platform.MediaBlobs, "*", SearchOption.AllDirectories).ToHashSet()
        : new HashSet<string>();
}
